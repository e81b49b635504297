import { execFile } from 'node:child_process';
import { ActionErrorCode } from '@entropy/protocol';
import { DriverError } from './driver.ts';

export interface CommandOutput {
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs one command without a shell. Injected into the xl, virsh and shell drivers so tests can record calls. */
export type CommandRunner = (
  file: string,
  args: readonly string[],
  opts?: { timeoutMs?: number },
) => Promise<CommandOutput>;

export interface ExecRunnerOptions {
  /** Environment of the commands (tests put fake executables first on PATH). */
  readonly env?: NodeJS.ProcessEnv;
  /** Used when a call gives no timeout. */
  readonly defaultTimeoutMs?: number;
}

/** A `CommandRunner` on child processes: non-zero exit, spawn failure and timeout become `DriverError`s. */
export function execRunner(opts: ExecRunnerOptions = {}): CommandRunner {
  return (file, args, call = {}) =>
    new Promise((resolve, reject) => {
      const timeout = call.timeoutMs ?? opts.defaultTimeoutMs ?? 0;
      execFile(
        file,
        args as string[],
        { env: opts.env ?? process.env, timeout, killSignal: 'SIGKILL', maxBuffer: 16 * 1024 * 1024 },
        (err, stdout, stderr) => {
          if (!err) return resolve({ stdout, stderr });
          const line = [file, ...args].join(' ');
          const e = err as NodeJS.ErrnoException & {
            killed?: boolean;
            signal?: string | null;
            code?: number | string | null;
          };
          if (e.killed && timeout > 0) {
            reject(
              new DriverError(ActionErrorCode.DriverTimeout, `${line}: killed after ${timeout} ms`, { cause: err }),
            );
          } else if (typeof e.code === 'number') {
            const detail = String(stderr || stdout)
              .trim()
              .split('\n')
              .slice(-3)
              .join(' | ');
            reject(
              new DriverError(
                ActionErrorCode.DriverFailed,
                `${line} exited with status ${e.code}${detail ? `: ${detail}` : ''}`,
                { cause: err },
              ),
            );
          } else {
            reject(new DriverError(ActionErrorCode.DriverFailed, `${line}: ${e.message}`, { cause: err }));
          }
        },
      );
    });
}
