import { type ChildProcess, spawn } from 'node:child_process';

/** The `entropy` CLI of the workspace, run with this Node. */
export const ENTROPY = new URL('../../packages/controller/bin/entropy.js', import.meta.url).pathname;

/** Runs `entropy ARGS` to its end; resolves with its exit status and output. */
export function entropy(...args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [ENTROPY, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve) => child.once('exit', (status) => resolve({ status, stdout, stderr })));
}

/** An `entropy controller` process; `log()` is what it has written so far (pino JSON lines). */
export interface ControllerProcess {
  readonly child: ChildProcess;
  log(): string;
  readonly exited: Promise<void>;
}

/** Starts `entropy controller --nats URL --prefix PREFIX --status-period 500 EXTRA...`. */
export function startControllerProcess(url: string, prefix: string, ...extra: string[]): ControllerProcess {
  const child = spawn(
    process.execPath,
    [ENTROPY, 'controller', '--nats', url, '--prefix', prefix, '--status-period', '500', ...extra],
    {
      stdio: ['ignore', 'ignore', 'pipe'],
    },
  );
  let log = '';
  child.stderr!.on('data', (d: Buffer) => (log += d.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return { child, log: () => log, exited };
}

export async function stopProcess(p: ControllerProcess | undefined, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (!p || p.child.exitCode !== null || p.child.signalCode !== null) return;
  p.child.kill(signal);
  await p.exited;
}

/** The controller's pino lines so far; the last one may still be half written. */
export const logLines = (log: string) =>
  log.split('\n').flatMap((l) => {
    try {
      return [JSON.parse(l) as Record<string, unknown>];
    } catch {
      return [];
    }
  });
