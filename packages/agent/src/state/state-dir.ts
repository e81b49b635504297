import {
  closeSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  unlinkSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import { AgentErrorCode, EntropyError } from '@entropy/protocol';

/** Where an agent keeps what must outlive it, one directory per node. */
export const DEFAULT_STATE_ROOT = '/var/lib/entropy/agent';
export const defaultStateDir = (node: string) => join(DEFAULT_STATE_ROOT, node);

/** The state directory cannot be used: not creatable, held by a live agent, or a write failed. */
export class StateDirError extends EntropyError {
  override name = 'StateDirError';
  constructor(
    readonly path: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(AgentErrorCode.StateDir, `${path}: ${message}`, { ...options, context: { path } });
  }
}

/**
 * Replaces `file` with `text` in one step: a reader (or the agent after `kill -9`) sees the old
 * content or the new one, never a mix. Synchronous so that the state is written before the agent
 * goes on (an action's effects, a raised token). No fsync: the page cache outlives a killed
 * process, and a node that loses power loses its VMs too.
 */
export function writeFileAtomic(file: string, text: string): void {
  const tmp = `${file}.${process.pid}.tmp`;
  try {
    writeFileSync(tmp, text);
    renameSync(tmp, file);
  } catch (err) {
    throw new StateDirError(file, `cannot write: ${(err as Error).message}`, { cause: err });
  }
}

/** The file's JSON, or undefined when there is no file. */
export function readJsonFile(file: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new StateDirError(file, `cannot read: ${(err as Error).message}`, { cause: err });
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new StateDirError(file, `not JSON: ${(err as Error).message}`, { cause: err });
  }
}

const LOCK_FILE = 'agent.lock';

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Creates the directory and takes it for this process: two agents on one directory would each
 * run the other's action ids. A lock left by a killed agent is taken over (its pid is gone).
 * Returns the release function.
 */
export function openStateDir(dir: string): () => void {
  try {
    mkdirSync(dir, { recursive: true });
  } catch (err) {
    throw new StateDirError(dir, `cannot create: ${(err as Error).message}`, { cause: err });
  }
  const lock = join(dir, LOCK_FILE);
  for (let attempt = 0; ; attempt++) {
    try {
      const fd = openSync(lock, 'wx');
      writeSync(fd, String(process.pid));
      closeSync(fd);
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST' || attempt > 0)
        throw new StateDirError(lock, `cannot lock: ${(err as Error).message}`, { cause: err });
      const pid = Number(readFileSync(lock, 'utf8').trim());
      if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && isAlive(pid))
        throw new StateDirError(dir, `in use by another agent (pid ${pid})`);
      unlinkSync(lock);
    }
  }
  return () => {
    try {
      unlinkSync(lock);
    } catch {
      // Already gone: nothing to release.
    }
  };
}
