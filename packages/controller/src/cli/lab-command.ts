import { resolve } from 'node:path';
import { LabError, LabErrorCode } from '../lab/lab-error.ts';
import { readLabState } from '../lab/lab-state.ts';
import { formatLabStatus, labStatus } from '../lab/lab-status.ts';
import { startLabHost, stopLabHost } from '../lab/lab-host-power.ts';
import { labDown } from '../lab/lab-teardown.ts';
import { DEFAULT_GUEST_MEM_MIB } from '../lab/lab-defaults.ts';
import { type Lab, labUp, type LabUpOptions } from '../lab/lab-up.ts';
import type { CommandResult } from '../command-io/io.ts';

const secs = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
const cli = 'pnpm entropy';

export async function labUpCommand(
  opts: LabUpOptions,
  log: (line: string) => void = (l) => process.stderr.write(`${l}\n`),
): Promise<CommandResult> {
  const lab = await labUp({ ...opts, progress: log });
  return { output: describeLab(lab), exitCode: 0 };
}

/** What `lab up` prints: where everything is and the commands to use it. */
export function describeLab(lab: Lab): string {
  const s = lab.state;
  const url = s.nats!.url;
  const guests = s.guests;
  const lines = [
    `lab ${s.prefix} up in ${secs(lab.upMs)}: ${s.hosts.length} hosts, ${guests.length} guests defined (${guests[0]?.memMiB ?? DEFAULT_GUEST_MEM_MIB} MiB, 1 vcpu, TCG; none running yet)`,
    ...s.hosts.map(
      (h) =>
        `  ${h.node}  ${h.addr}  namespace ${h.ns}  capacity ${Object.entries(s.capacity ?? {})
          .map(([k, v]) => `${k}=${v}`)
          .join(',')}`,
    ),
    `NATS: ${url}`,
    '',
    "use it (the lab's nats-server takes only its own users: these commands run as its operator):",
    ...(s.nats!.creds ? [`  export ENTROPY_NATS_CREDS=${s.nats!.creds}`] : []),
    `  ${cli} status --nats ${url}`,
    `  ${cli} apply TARGET --nats ${url}          # an instance file naming VMs ${guests[0]?.name ?? 'v1'}..${guests.at(-1)?.name ?? 'v9'}, or j1=running,...`,
    `  ${cli} submit VJOB.json --nats ${url}`,
    `  ${cli} lab status --dir ${s.dir}`,
    `  ${cli} lab down --dir ${s.dir}`,
  ];
  if (lab.scenario) {
    lines.push('', 'a reference-like context switch, one apply after the other:');
    for (const step of lab.scenario.steps) lines.push(`  ${cli} apply ${step.target} --nats ${url}    # ${step.what}`);
  }
  lines.push(
    '',
    `guests' serial consoles (marker, then a tick a second): ${s.dir}/serial/<vm>.log; logs: ${s.dir}/logs; domain XMLs: ${s.dir}/config`,
  );
  return lines.join('\n');
}

export async function labStatusCommand(opts: { dir: string; json?: boolean }): Promise<CommandResult> {
  const state = readLabState(resolve(opts.dir));
  if (!state) return { output: `no lab recorded in ${resolve(opts.dir)}`, exitCode: 0 };
  const st = await labStatus(state);
  return { output: opts.json ? JSON.stringify(st, null, 2) : formatLabStatus(st), exitCode: 0 };
}

export async function labDownCommand(opts: { dir: string }): Promise<CommandResult> {
  const dir = resolve(opts.dir);
  const t0 = performance.now();
  const down = await labDown(dir);
  if (!down) return { output: `no lab recorded in ${dir}: nothing to remove`, exitCode: 0 };
  const { state, report } = down;
  if (report.failures.length > 0) {
    throw new LabError(
      LabErrorCode.Teardown,
      `lab ${state.prefix}: could not remove ${report.failures.join('; ')}; ${dir}/lab.json keeps the record: run lab down again`,
    );
  }
  return {
    output: `lab ${state.prefix} down in ${secs(performance.now() - t0)}: ${report.processes.length} processes stopped, ${report.namespaces.length} namespaces and ${report.paths.length} paths removed`,
    exitCode: 0,
  };
}

export async function labHostStartCommand(node: string, opts: { dir: string }): Promise<CommandResult> {
  const r = await startLabHost(resolve(opts.dir), node);
  return { output: `host ${node} started in ${secs(r.ms)}: ${r.processes.join(', ')}`, exitCode: 0 };
}

export async function labHostStopCommand(
  node: string,
  opts: { dir: string; byAgent?: boolean },
): Promise<CommandResult> {
  const r = await stopLabHost(resolve(opts.dir), node, { byAgent: opts.byAgent === true });
  return { output: `host ${node} powered off in ${secs(r.ms)}: ${r.processes.join(', ')}`, exitCode: 0 };
}
