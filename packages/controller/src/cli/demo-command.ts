import { rm } from 'node:fs/promises';
import { workspacePath } from '../workspace.ts';
import { setTimeout as delay } from 'node:timers/promises';
import { EntropyError, ErrorCode, type StatusReply } from '@entropy/protocol';
import { startDemoCluster, waitUntilObserved, type DemoCluster } from '../cluster/demo-cluster.ts';
import { parseInstance, type Instance } from '@entropy/engine';
import { applyCommand, type ApplyIo } from './apply-command.ts';
import { readApplySource } from './apply-source.ts';
import { readJsonFile, type CommandResult } from '../command-io/io.ts';
import { labDemo } from './demo-lab.ts';
import { DemoExit, untilSignal, vjobTable, wantedStateMismatches } from './demo-report.ts';

export const REFERENCE_INSTANCE = workspacePath('examples/reference.json');

export interface DemoCommandOptions {
  /** An instance file to play instead of the bundled reference cluster. */
  readonly instance?: string;
  readonly keep?: boolean;
  readonly speed?: number;
  readonly mode?: 'barrier' | 'asap';
  readonly statusPeriod?: number;
  /** On a lab of QEMU guests (entropy lab) instead of sim agents: the lab's scaled scenario. */
  readonly lab?: boolean;
}

const defaultIo: ApplyIo = {
  write: (text) => process.stdout.write(text.endsWith('\n') ? text : `${text}\n`),
  bars: process.stderr.isTTY === true,
  log: (line) => process.stderr.write(`${line}\n`),
};

/**
 * `entropy demo`: an embedded nats-server, one sim agent process per node of the instance, and a
 * controller process; then the instance's context switch, executed live, and a check that the
 * agents report the wanted state. Every process it started is stopped before it returns.
 */
export async function demoCommand(options: DemoCommandOptions = {}, io: ApplyIo = defaultIo): Promise<CommandResult> {
  if (options.lab) {
    if (options.instance)
      throw new EntropyError(
        ErrorCode.InvalidInstance,
        `--lab plays the lab's own scenario (3 hosts, 9 guests): no instance file (${options.instance})`,
      );
    return labDemo(options, io);
  }
  const file = options.instance ?? REFERENCE_INSTANCE;
  const instance = parseInstance(readJsonFile(file), file);
  const { configuration } = instance;
  io.log(
    `starting nats-server, ${configuration.nodes.length} sim agents and the controller (${configuration.vms.length} VMs in ${configuration.vjobs.length} vjobs)...`,
  );
  const cluster = await startDemoCluster({
    configuration,
    speed: options.speed ?? 1,
    statusPeriodMs: options.statusPeriod ?? 500,
    mode: options.mode,
  });
  let failed = true;
  try {
    await waitUntilObserved(cluster, configuration, 60_000);
    await cluster.register(readApplySource(file));
    const before = await cluster.status();
    io.write(
      `cluster up on ${cluster.url}: ${before.nodes.length} nodes online, ${before.vms.length} VMs known\n${vjobTable(instance, before)}\n`,
    );
    const applied = await applyCommand(
      file,
      { nats: cluster.url, creds: cluster.operatorCreds, mode: options.mode },
      io,
    );
    io.write(applied.output);
    const after = await settledStatus(cluster, instance);
    const mismatches = wantedStateMismatches(instance, after);
    io.write(`\nafter the context switch:\n${vjobTable(instance, after)}`);
    failed = applied.exitCode !== 0 || mismatches.length > 0;
    const verdict =
      mismatches.length === 0
        ? 'every vjob is in the state the decision asked for, as reported by the agents'
        : `MISMATCH between the decision and what the agents report:\n  ${mismatches.join('\n  ')}`;
    if (options.keep) {
      io.write(
        `\n${verdict}\ncluster kept up: try \`pnpm entropy status --nats ${cluster.url} --creds ${cluster.operatorCreds}\`; logs in ${cluster.dir}; Ctrl-C stops it`,
      );
      await untilSignal();
    }
    return {
      output: `\n${verdict}`,
      exitCode: applied.exitCode !== 0 ? applied.exitCode : mismatches.length > 0 ? DemoExit.Mismatch : DemoExit.Ok,
    };
  } finally {
    await cluster.stop();
    if (failed) io.log(`logs kept in ${cluster.dir}`);
    else await rm(cluster.dir, { recursive: true, force: true });
  }
}

/** Polls until the agents' reports show the decision (or a few seconds pass): statuses lag actions by up to one period. */
async function settledStatus(cluster: DemoCluster, instance: Instance): Promise<StatusReply> {
  let status = await cluster.status();
  for (let i = 0; i < 25 && wantedStateMismatches(instance, status).length > 0; i++) {
    await delay(200);
    status = await cluster.status();
  }
  return status;
}
