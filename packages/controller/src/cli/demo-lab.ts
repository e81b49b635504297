import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { StatusReply } from '@entropy/protocol';
import { connectNats } from '../controller/nats-connect.ts';
import { parseInstance } from '@entropy/engine';
import { consoleBreak, readSerial, untilTicking } from '../lab/guest.ts';
import { applyOnLab } from './lab-apply.ts';
import { labDown } from '../lab/lab-teardown.ts';
import { SCENARIO_END } from '../lab/lab-scenario.ts';
import { labNats } from '../lab/lab-state.ts';
import { labUp } from '../lab/lab-up.ts';
import { statusCommand } from './status-command.ts';
import type { ApplyIo } from './apply-command.ts';
import { type CommandResult, readJsonFile } from '../command-io/io.ts';
import { DemoExit } from './demo-report.ts';
import { untilSignal, vjobTable, wantedStateMismatches } from './demo-report.ts';

/** Several TCG guests booting at once on shared cores take tens of seconds. */
const BOOT_TIMEOUT_MS = 300_000;

/**
 * `entropy demo --lab`: the demo's story on real QEMU guests, scaled to the lab (3 hosts, 9 guests
 * of 128 MiB): the lab's reference-like scenario (lab-scenario.ts), one `entropy apply` per step,
 * then a check that the agents report the wanted states and that every guest's console shows one
 * life (one boot, its tick counter never reset). The lab is removed at the end unless `keep`.
 */
export async function labDemo(options: { keep?: boolean }, io: ApplyIo): Promise<CommandResult> {
  const root = await mkdtemp(join(tmpdir(), 'entropy-demo-lab-'));
  io.log('starting a lab: 3 namespace hosts, each with libvirtd and a virsh agent, nats-server and the controller...');
  let lab;
  try {
    lab = await labUp({ dir: join(root, 'lab'), progress: io.log });
  } catch (err) {
    await rm(root, { recursive: true, force: true });
    throw err;
  }
  const { state, scenario } = lab;
  const nats = labNats(state);
  const url = nats.nats;
  const serialOf = (vm: string) => join(state.dir, 'serial', `${vm}.log`);
  const nc = await connectNats(nats, 'entropy-demo-lab');
  // The scenario's VMs and vjobs, with the states its last step leaves them in.
  const wanted = parseInstance(
    { ...(readJsonFile(scenario!.instanceFile) as object), decision: SCENARIO_END },
    scenario!.instanceFile,
  );
  let exitCode: number = DemoExit.Failed;
  try {
    io.write(
      `lab ${state.prefix} up in ${(lab.upMs / 1000).toFixed(1)} s on ${url}: ${state.hosts.length} hosts, ${state.guests.length} guests (consoles in ${state.dir}/serial)\n`,
    );
    for (const step of scenario!.steps) {
      io.write(`\n== ${step.name}: entropy apply ${step.target}  (${step.what})`);
      const r = await applyOnLab(nc, nats, step.target);
      io.write(r.output);
      if (r.exitCode !== 0)
        return { output: `\nthe ${step.name} step failed; the lab's logs: ${state.dir}/logs`, exitCode: r.exitCode };
      const started = r.actions.filter((a) => a.type === 'run' || a.type === 'unpause').map((a) => a.vm);
      if (started.length > 0) {
        io.log(`waiting for ${started.join(', ')} to tick on their consoles...`);
        await untilTicking(serialOf, started, { timeoutMs: BOOT_TIMEOUT_MS });
      }
    }
    const status = JSON.parse((await statusCommand({ ...nats, json: true })).output) as StatusReply;
    const mismatches = wantedStateMismatches(wanted, status);
    const lives = await Promise.all(
      state.guests.map(async (g) => [g.name, consoleBreak(await readSerial(serialOf(g.name)))] as const),
    );
    const broken = lives.filter(([, why]) => why !== undefined).map(([vm, why]) => `${vm}: ${why}`);
    io.write(`\nafter the scenario:\n${vjobTable(wanted, status)}`);
    const verdict = [
      mismatches.length === 0
        ? 'every vjob is in the state the scenario asked for, as reported by the agents'
        : `MISMATCH with what the agents report:\n  ${mismatches.join('\n  ')}`,
      broken.length === 0
        ? 'every guest lived one life: one boot, its tick counter never reset or skipped'
        : `CONSOLES BROKEN:\n  ${broken.join('\n  ')}`,
    ].join('\n');
    exitCode = mismatches.length > 0 || broken.length > 0 ? DemoExit.Mismatch : DemoExit.Ok;
    if (options.keep) {
      io.write(
        `\n${verdict}\nlab kept up: try \`pnpm entropy status --nats ${url} --creds ${nats.creds}\` or \`pnpm entropy lab status --dir ${state.dir}\`; Ctrl-C removes it`,
      );
      await untilSignal();
    }
    return { output: `\n${verdict}`, exitCode };
  } finally {
    await nc.close();
    // From the state file, not the state lab up returned: with --keep, a host may have been powered off and on since.
    const report = (await labDown(state.dir))?.report ?? { failures: [] };
    if (report.failures.length > 0)
      io.log(`lab down left: ${report.failures.join('; ')} (run entropy lab down --dir ${state.dir})`);
    else await rm(root, { recursive: true, force: true });
  }
}
