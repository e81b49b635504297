import { join } from 'node:path';
import { AGENT_BIN, ENTROPY_BIN } from '../cluster/processes.ts';
import type { LabHost } from './lab-state.ts';
import { type Libvirtd, startLibvirtd } from './libvirtd.ts';
import { type RecordedProcess, spawnRecorded } from './recorded-process.ts';

/** The agents' status period: the lab's statuses follow its guests within a second. */
const STATUS_PERIOD_MS = 1000;

/**
 * The agents (and the virsh sessions they start) run at a higher priority, through `nice` (which
 * execs: the pid stays): on one machine they share 2 cores with every host's QEMU and whatever else
 * runs, where on a real cluster each host's agent competes with its own guests only. Not libvirtd:
 * its QEMU would inherit the priority. Without it, a timer or a message
 * wakes an agent up to 20-40 ms late on a loaded machine, and a vjob's pauses start that far apart.
 */
export const HOST_PRIORITY = ['nice', '-n', '-10'] as const;

/**
 * The lab's node power, through the compiled CLI: an agent powers its host off by stopping the
 * host's libvirtd (it exits by itself once it has replied), the controller boots one by starting
 * its libvirtd and agent again. Both find the lab by its directory.
 */
export const hostStopCommand = (dir: string) => [
  process.execPath,
  ENTROPY_BIN,
  'lab',
  'host-stop',
  '{node}',
  '--dir',
  dir,
  '--by-agent',
];
export const hostStartCommand = (dir: string) => [
  process.execPath,
  ENTROPY_BIN,
  'lab',
  'host-start',
  '{node}',
  '--dir',
  dir,
];

/** A host's libvirtd, as lab up starts it and host-start starts it again (the same directory: a new host UUID, no guest). */
export function startHostLibvirtd(
  prefix: string,
  h: LabHost,
  started: (p: RecordedProcess) => void | Promise<void>,
): Promise<Libvirtd> {
  return startLibvirtd({
    dir: h.libvirtDir,
    name: `libvirtd-${h.node}`,
    probeQemu: true,
    host: { ns: h.ns, hostname: `${prefix}-${h.node}` },
    detached: true,
    started,
  });
}

export interface HostAgentOptions {
  /** The lab directory: config, images, state, logs. */
  readonly dir: string;
  readonly natsUrl: string;
  /** The agent's NATS credentials file (the lab runs with production permissions). */
  readonly creds: string;
  /** `n1=ADDR,...`: where live migrations go. */
  readonly migration: string;
  readonly capacity: Readonly<Record<string, number>>;
}

/** The command line of a host's `entropy-agent --driver virsh`, in the host's namespace. */
export function hostAgentCommand(h: LabHost, o: HostAgentOptions): string[] {
  const path = (...parts: string[]) => join(o.dir, ...parts);
  const args = [
    AGENT_BIN,
    '--node',
    h.node,
    '--nats',
    o.natsUrl,
    '--creds',
    o.creds,
    '--driver',
    'virsh',
    '--virsh-uri',
    h.uri,
    '--config-dir',
    path('config'),
    '--image-dir',
    path('images'),
    '--shared-images',
    '--hosts',
    o.migration,
    '--state-dir',
    path('state', h.node),
    '--capacity',
    Object.entries(o.capacity)
      .map(([k, v]) => `${k}=${v}`)
      .join(','),
    '--status-interval',
    String(STATUS_PERIOD_MS),
    '--shutdown-command',
    JSON.stringify(hostStopCommand(o.dir)),
  ];
  // `ip netns exec` and nice exec node: the recorded pid is the agent's.
  return ['ip', 'netns', 'exec', h.ns, ...HOST_PRIORITY, process.execPath, ...args];
}

/** Starts a host's agent from its recorded command line; it outlives the caller. */
export function spawnHostAgent(dir: string, node: string, command: readonly string[]): RecordedProcess {
  return spawnRecorded(`agent-${node}`, command[0]!, command.slice(1), {
    log: join(dir, 'logs', `agent-${node}.log`),
    detached: true,
  }).process;
}
