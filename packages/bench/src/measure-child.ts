import { spawn } from 'node:child_process';

/**
 * Runs one measurement in a fresh Node process (tsx loader), so that its peak RSS is its own: the
 * script gets the task as JSON in argv and prints its measurement as the last line of stdout. A
 * crash or a bad last line becomes the task with an `error` naming the child's own last words.
 */
export function runMeasurementChild<T extends object, M>(
  script: string,
  task: T,
  timeoutMs: number,
): Promise<M | (T & { readonly error: string })> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', script, JSON.stringify(task)], {
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: timeoutMs,
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d));
    child.stderr.on('data', (d: Buffer) => (err += d));
    child.on('close', (code, signal) => {
      const last = out.trim().split('\n').pop() ?? '';
      try {
        if (code === 0) return resolve(JSON.parse(last) as M);
      } catch {
        // fall through: report the child's own words
      }
      const why = signal ? `killed by ${signal}` : `exit ${code}`;
      resolve({ ...task, error: `${why}: ${err.trim().split('\n').slice(-3).join(' | ') || last}` });
    });
  });
}
