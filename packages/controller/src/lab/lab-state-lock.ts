import { closeSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { LabError, LabErrorCode } from './lab-error.ts';
import { LAB_STATE_FILE, type LabState, readLabState, writeLabState } from './lab-state.ts';
import { isRunning, processStartTime } from './recorded-process.ts';

/** The lock file beside the state file, held while one process reads, changes and writes the state. */
export const LAB_STATE_LOCK = `${LAB_STATE_FILE}.lock`;
const LOCK_TIMEOUT_MS = 10_000;
const LOCK_RETRY_MS = 20;

/**
 * Reads, changes and writes a lab's state file under its lock. Once a lab is up, several processes
 * write the file: `lab host-start` (two at once when a plan boots two nodes), `lab host-stop` and
 * `lab down`; without the lock one would write back a state that misses what another recorded.
 * `change` may throw: nothing is written then.
 */
export async function updateLabState(dir: string, change: (s: LabState) => LabState): Promise<LabState> {
  const lock = await acquire(join(dir, LAB_STATE_LOCK));
  try {
    const state = readLabState(dir);
    if (!state) throw new LabError(LabErrorCode.State, `no lab recorded in ${dir}`);
    const next = change(state);
    writeLabState(next);
    return next;
  } finally {
    unlinkSync(lock);
  }
}

/**
 * Takes the lock by creating its file (O_EXCL), which names the holder by pid and start time. A
 * holder that died (a crash between its read and its write) leaves the file: it is taken over.
 */
async function acquire(file: string): Promise<string> {
  const deadline = Date.now() + LOCK_TIMEOUT_MS;
  const me = `${process.pid} ${processStartTime(process.pid) ?? '?'}`;
  for (;;) {
    try {
      const fd = openSync(file, 'wx');
      try {
        writeSync(fd, me);
      } finally {
        closeSync(fd);
      }
      return file;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST')
        throw new LabError(LabErrorCode.State, `${file}: cannot lock (${(err as Error).message})`, { cause: err });
    }
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      continue; // released meanwhile
    }
    const holder = text.trim().split(' ');
    const pid = Number(holder[0]);
    // An empty file is a holder between its create and its write: wait for it.
    if (holder[0] !== '' && !(Number.isInteger(pid) && pid > 0 && isRunning({ pid, startTime: holder[1] ?? '' }))) {
      try {
        unlinkSync(file);
      } catch {
        // another process took it over first
      }
      continue;
    }
    if (Date.now() > deadline)
      throw new LabError(LabErrorCode.State, `${file}: held by pid ${holder[0]} for more than ${LOCK_TIMEOUT_MS} ms`);
    await delay(LOCK_RETRY_MS);
  }
}
