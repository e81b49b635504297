import { LabError, LabErrorCode } from './lab-error.ts';
import { spawnHostAgent, startHostLibvirtd } from './lab-host.ts';
import { type LabHost, type LabProcess, LabRole, type LabState, readLabState } from './lab-state.ts';
import { updateLabState } from './lab-state-lock.ts';
import { stopLibvirtd } from './libvirtd.ts';
import { isRunning, type RecordedProcess, stopRecorded } from './recorded-process.ts';

export interface HostPowerReport {
  readonly node: string;
  /** What became of each of its processes: `agent-n3 (pid 123): started`. */
  readonly processes: readonly string[];
  readonly ms: number;
}

/** How long a host's agent may take to stop when host-stop stops it: it waits for its running actions. */
const AGENT_STOP_GRACE_MS = 30_000;

const outcome = (p: Pick<RecordedProcess, 'name' | 'pid'>, what: string) => `${p.name} (pid ${p.pid}): ${what}`;

/** The host of an up lab; refused while the lab is starting or going down (what would be started then might not be removed). */
function upHost(dir: string, node: string): { state: LabState; host: LabHost } {
  const state = readLabState(dir);
  if (!state) throw new LabError(LabErrorCode.State, `no lab recorded in ${dir}`);
  const host = state.hosts.find((h) => h.node === node);
  if (!host)
    throw new LabError(
      LabErrorCode.UnknownHost,
      `lab ${state.prefix} has no host ${node} (hosts: ${state.hosts.map((h) => h.node).join(', ')})`,
    );
  if (state.phase !== 'up')
    throw new LabError(
      LabErrorCode.HostPower,
      `lab ${state.prefix} is ${state.phase === 'starting' ? 'not up yet' : 'going down'}: ${node} left as it is`,
    );
  return { state, host };
}

const runningOf = (state: LabState, node: string, role: LabRole): LabProcess | undefined =>
  state.processes.find((p) => p.role === role && p.node === node && isRunning(p));
/** The host's latest record of that role (host-start replaces the records of what it starts again). */
const recordOf = (state: LabState, node: string, role: LabRole): LabProcess | undefined =>
  state.processes.filter((p) => p.role === role && p.node === node).at(-1);

/**
 * Records a process host-start has just spawned, in place of the host's records of that role whose
 * process is gone (so that the lab's list stays one libvirtd and one agent per host). Refused once
 * lab down has begun: the caller then stops the process itself, since lab down took the list before.
 */
export async function recordHostProcess(dir: string, node: string, role: LabRole, p: RecordedProcess): Promise<void> {
  await updateLabState(dir, (s) => {
    if (s.phase !== 'up')
      throw new LabError(
        LabErrorCode.HostPower,
        `lab ${s.prefix} is going down: ${p.name} (pid ${p.pid}) not recorded, stopped again`,
      );
    const kept = s.processes.filter((x) => !(x.role === role && x.node === node && !isRunning(x)));
    return { ...s, processes: [...kept, { ...p, role, node }] };
  });
}

const markPoweredOff = (dir: string, node: string, at: number | undefined) =>
  updateLabState(dir, (s) => ({
    ...s,
    hosts: s.hosts.map((h) => {
      if (h.node !== node) return h;
      const { poweredOffAt: _, ...on } = h;
      return at === undefined ? on : { ...h, poweredOffAt: at };
    }),
  }));

/**
 * `entropy lab host-start N`, the lab's boot command: starts what of host N does not run, its
 * libvirtd (in the directory it had: no guest, a new host UUID) and then its agent, with the command
 * line lab up recorded. Each process is recorded in lab.json as soon as it is spawned; the command
 * returns once libvirtd answers and the agent is spawned (the controller's boot ends when that agent
 * says hello and reports).
 */
export async function startLabHost(dir: string, node: string): Promise<HostPowerReport> {
  const t0 = performance.now();
  const { state, host } = upHost(dir, node);
  if (!host.agentCommand)
    throw new LabError(
      LabErrorCode.HostPower,
      `lab ${state.prefix} recorded no agent command for ${node} (made by an older entropy lab up): recreate it`,
    );
  await markPoweredOff(dir, node, undefined);
  const processes: string[] = [];

  const daemon = runningOf(state, node, LabRole.Libvirtd);
  if (daemon) processes.push(outcome(daemon, 'running'));
  else {
    try {
      const started = await startHostLibvirtd(state.prefix, host, (p) =>
        recordHostProcess(dir, node, LabRole.Libvirtd, p),
      );
      processes.push(outcome(started.process, 'started'));
    } catch (err) {
      if (err instanceof LabError) throw err;
      throw new LabError(
        LabErrorCode.HostPower,
        `${node}: libvirtd did not start: ${(err as Error).message.split('\n')[0]}`,
        { cause: err },
      );
    }
  }

  const agent = runningOf(state, node, LabRole.Agent);
  if (agent) processes.push(outcome(agent, 'running'));
  else {
    const p = spawnHostAgent(dir, node, host.agentCommand);
    try {
      await recordHostProcess(dir, node, LabRole.Agent, p);
    } catch (err) {
      await stopRecorded(p, AGENT_STOP_GRACE_MS);
      throw err;
    }
    processes.push(outcome(p, 'started'));
  }
  return { node, processes, ms: performance.now() - t0 };
}

export interface StopLabHostOptions {
  /**
   * Run as the host agent's `--shutdown-command`: the agent is left alone, since it replies to the
   * controller once this returns and then exits by itself (a power-off that took it down first would
   * leave the controller without its reply).
   */
  readonly byAgent?: boolean;
}

/**
 * `entropy lab host-stop N`: powers host N off, the lab's way: its agent is stopped (unless it is the
 * caller), then its libvirtd, with whatever guests still run there (a power cut; the agent refuses a
 * shutdown while it holds any), and the host is recorded as powered off. Its records stay, so that
 * lab down still finds what did not stop; host-start replaces them.
 */
export async function stopLabHost(dir: string, node: string, opts: StopLabHostOptions = {}): Promise<HostPowerReport> {
  const t0 = performance.now();
  const { state, host } = upHost(dir, node);
  const processes: string[] = [];
  const agent = recordOf(state, node, LabRole.Agent);
  if (agent && isRunning(agent))
    processes.push(
      outcome(agent, opts.byAgent ? 'left to exit by itself' : await stopRecorded(agent, AGENT_STOP_GRACE_MS)),
    );
  else if (agent) processes.push(outcome(agent, 'gone'));

  const daemon = recordOf(state, node, LabRole.Libvirtd);
  const wasRunning = daemon !== undefined && isRunning(daemon);
  try {
    await stopLibvirtd({
      dir: host.libvirtDir,
      uri: host.uri,
      ...(daemon ? { process: daemon } : {}),
      domains: state.guests.map((g) => g.name),
    });
  } catch (err) {
    throw new LabError(
      LabErrorCode.HostPower,
      `${node}: libvirtd did not stop: ${(err as Error).message.split('\n')[0]}`,
      { cause: err },
    );
  }
  if (daemon) {
    if (isRunning(daemon))
      throw new LabError(
        LabErrorCode.HostPower,
        `${node}: ${daemon.name} (pid ${daemon.pid}) still runs after SIGKILL`,
      );
    processes.push(outcome(daemon, wasRunning ? 'stopped' : 'gone'));
  }
  await markPoweredOff(dir, node, Date.now());
  return { node, processes, ms: performance.now() - t0 };
}
