import { spawn } from 'node:child_process';
import type { Socket } from 'node:net';
import { describeCommand } from '@entropy/protocol';
import { NodePowerError, NodePowerErrorCode } from '../executor/index.ts';

export interface BootCommandOptions {
  readonly node: string;
  /** The command is killed past this. */
  readonly timeoutMs: number;
  readonly signal?: AbortSignal;
}

/** Runs a boot command; resolves when it exits 0. Injected into natsNodePower so tests can record it. */
export type BootCommandRunner = (argv: readonly string[], options: BootCommandOptions) => Promise<void>;

/**
 * Runs the boot command without a shell (IPMI, Wake-on-LAN, or in tests a script that starts a sim
 * agent) until it exits, not until its output ends: a command that leaves a daemon behind (the
 * agent it starts) must not hold the boot while the daemon keeps its stderr. `ENTROPY_NODE` is set
 * in its environment too. A non-zero exit, a failure to start, or a timeout is ENTROPY_BOOT_FAILED
 * with the last lines of stderr.
 */
export const runBootCommand: BootCommandRunner = (argv, options) =>
  new Promise((resolve, reject) => {
    const line = describeCommand(argv);
    const fail = (why: string, cause?: unknown) =>
      reject(
        new NodePowerError(
          NodePowerErrorCode.BootFailed,
          options.node,
          `boot command ${line}: ${why}`,
          cause !== undefined ? { cause } : {},
        ),
      );
    if (options.signal?.aborted) return fail('not run: the plan was stopped');
    const child = spawn(argv[0]!, argv.slice(1), {
      stdio: ['ignore', 'ignore', 'pipe'],
      env: { ...process.env, ENTROPY_NODE: options.node },
    });
    let stderr = '';
    const collect = (chunk: Buffer) => void (stderr = (stderr + chunk.toString()).slice(-4096));
    child.stderr!.on('data', collect);
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      fail(`killed after ${options.timeoutMs} ms`);
    }, options.timeoutMs);
    const onAbort = () => child.kill('SIGKILL');
    options.signal?.addEventListener('abort', onAbort, { once: true });
    const done = () => {
      clearTimeout(timer);
      options.signal?.removeEventListener('abort', onAbort);
      // What the command left behind may keep writing: drained, and no reason to keep the controller alive.
      child.stderr!.off('data', collect).resume();
      (child.stderr as Socket).unref?.();
    };
    child.once('error', (err) => {
      done();
      fail(err.message, err);
    });
    child.once('exit', (code, signal) => {
      let ended = false;
      const end = () => {
        if (ended) return;
        ended = true;
        done();
        if (code === 0) return resolve();
        const tail = stderr.trim().split('\n').slice(-3).join(' | ');
        fail(`${code !== null ? `exited with status ${code}` : `killed by ${signal}`}${tail ? `: ${tail}` : ''}`);
      };
      // Its last stderr lines may come after the exit; a daemon it left may hold the pipe for good.
      child.once('close', end);
      setTimeout(end, 200).unref();
    });
  });
