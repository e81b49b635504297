import { closeSync, openSync, readFileSync, writeSync } from 'node:fs';
import { StateDirError, writeFileAtomic } from './state-dir.ts';

export interface JsonLines {
  readonly values: unknown[];
  /** Lines that are not JSON; only the last one is expected (a write cut short). */
  readonly badLines: number;
}

/** Reads a JSON-lines file; a missing file has no lines, a line that does not parse is skipped and counted. */
export function readJsonLines(file: string): JsonLines {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { values: [], badLines: 0 };
    throw new StateDirError(file, `cannot read: ${(err as Error).message}`, { cause: err });
  }
  const values: unknown[] = [];
  let badLines = 0;
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    try {
      values.push(JSON.parse(line));
    } catch {
      badLines++;
    }
  }
  return { values, badLines };
}

/**
 * An append-only journal of JSON values, one per line, compacted by rewriting it whole (atomically).
 * Appends are synchronous: a record is in the file before the agent acts on it.
 */
export class JsonLinesFile {
  private fd: number;
  /** Lines appended since the last rewrite. */
  appended = 0;

  /** Opens `file` for appends, first rewriting it with `values` (which drops a torn last line). */
  constructor(
    readonly file: string,
    values: readonly unknown[],
  ) {
    writeFileAtomic(file, text(values));
    this.fd = this.openForAppend();
  }

  append(value: unknown): void {
    try {
      writeSync(this.fd, `${JSON.stringify(value)}\n`);
    } catch (err) {
      throw new StateDirError(this.file, `cannot append: ${(err as Error).message}`, { cause: err });
    }
    this.appended++;
  }

  rewrite(values: readonly unknown[]): void {
    writeFileAtomic(this.file, text(values));
    closeSync(this.fd);
    this.fd = this.openForAppend();
    this.appended = 0;
  }

  close(): void {
    closeSync(this.fd);
  }

  private openForAppend(): number {
    try {
      return openSync(this.file, 'a');
    } catch (err) {
      throw new StateDirError(this.file, `cannot open: ${(err as Error).message}`, { cause: err });
    }
  }
}

const text = (values: readonly unknown[]) => values.map((v) => `${JSON.stringify(v)}\n`).join('');
