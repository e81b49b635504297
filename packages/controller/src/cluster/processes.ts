import { type ChildProcess, spawn } from 'node:child_process';
import { openSync, closeSync } from 'node:fs';
import { setTimeout as delay } from 'node:timers/promises';
import { workspacePath } from '../workspace.ts';

/** The bins of the workspace, run with the same Node as this process. */
export const AGENT_BIN = workspacePath('packages/agent/bin/entropy-agent.js');
export const ENTROPY_BIN = workspacePath('packages/controller/bin/entropy.js');

/** A child process whose stderr (pino JSON lines) goes to a log file. */
export interface ManagedProcess {
  readonly name: string;
  readonly child: ChildProcess;
  readonly log: string;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves once the process is gone. */
  stop(graceMs?: number): Promise<void>;
}

export function startProcess(name: string, bin: string, args: readonly string[], log: string): ManagedProcess {
  const fd = openSync(log, 'a');
  const child = spawn(process.execPath, [bin, ...args], { stdio: ['ignore', fd, fd] });
  closeSync(fd);
  const exited = new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once('exit', () => resolve());
  });
  return {
    name,
    child,
    log,
    async stop(graceMs = 10_000) {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const gone = await Promise.race([exited.then(() => true), delay(graceMs).then(() => false)]);
      if (!gone) {
        child.kill('SIGKILL');
        await exited;
      }
    },
  };
}
