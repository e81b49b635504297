import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { setTimeout as delay } from 'node:timers/promises';

/**
 * A process the lab started, as recorded: its pid and its start time (field 22 of /proc/PID/stat,
 * clock ticks since boot). The pair names one process: a pid reused by another process after ours
 * died has another start time, so the lab never signals a stranger.
 */
export interface RecordedProcess {
  readonly name: string;
  readonly pid: number;
  readonly startTime: string;
  readonly log?: string;
}

/** The start time and state of a process, or undefined when there is no such pid. */
function procStat(pid: number): { startTime: string; state: string } | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // The command name (field 2) is in parentheses and may hold spaces: count fields after its ')'.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return { state: fields[0]!, startTime: fields[19]! };
}

export function processStartTime(pid: number): string | undefined {
  return procStat(pid)?.startTime;
}

/** True while the recorded process runs (a zombie, dead but not reaped, counts as gone). */
export function isRunning(p: Pick<RecordedProcess, 'pid' | 'startTime'>): boolean {
  const st = procStat(p.pid);
  return st !== undefined && st.startTime === p.startTime && st.state !== 'Z' && st.state !== 'X';
}

export type StopOutcome = 'gone' | 'stopped' | 'killed';

/** SIGTERM, then SIGKILL after `graceMs`; resolves once the process is gone. Signals only the recorded process. */
export async function stopRecorded(
  p: Pick<RecordedProcess, 'pid' | 'startTime'>,
  graceMs = 10_000,
): Promise<StopOutcome> {
  if (!isRunning(p)) return 'gone';
  signal(p.pid, 'SIGTERM');
  if (await exitWithin(p, graceMs)) return 'stopped';
  if (isRunning(p)) signal(p.pid, 'SIGKILL');
  await exitWithin(p, 10_000);
  return 'killed';
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // gone meanwhile
  }
}

async function exitWithin(p: Pick<RecordedProcess, 'pid' | 'startTime'>, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (isRunning(p)) {
    if (Date.now() > deadline) return false;
    await delay(50);
  }
  return true;
}

export interface SpawnRecordedOptions {
  /** stdout and stderr go to this file (appended). */
  readonly log: string;
  /**
   * The process outlives this one: its own session, no handle keeping this process alive. What
   * `entropy lab up` starts runs on after the command returns.
   */
  readonly detached?: boolean;
  readonly env?: NodeJS.ProcessEnv;
}

/**
 * Spawns a process and reads its identity at once. Commands that exec the next program (`ip netns
 * exec`, `unshare`, `sh -c 'exec ...'`) keep the pid, so the recorded process is the final one.
 */
export function spawnRecorded(
  name: string,
  file: string,
  args: readonly string[],
  opts: SpawnRecordedOptions,
): { process: RecordedProcess; child: ChildProcess } {
  const fd = openSync(opts.log, 'a');
  let child: ChildProcess;
  try {
    child = spawn(file, args, {
      stdio: ['ignore', fd, fd],
      detached: opts.detached === true,
      env: opts.env ?? process.env,
    });
  } finally {
    closeSync(fd);
  }
  // A missing program is reported below (no pid), not as an unhandled 'error' event.
  child.once('error', () => {});
  if (child.pid === undefined) throw new Error(`cannot start ${name}: ${file} not found`);
  if (opts.detached) child.unref();
  // Read before anything else runs: the child cannot have exited and been reaped yet.
  const startTime = processStartTime(child.pid);
  if (startTime === undefined) throw new Error(`${name} (pid ${child.pid}) exited at once; see ${opts.log}`);
  return { process: { name, pid: child.pid, startTime, log: opts.log }, child };
}
