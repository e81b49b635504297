import * as z from 'zod';
import { readJsonFile, StateDirError, writeFileAtomic } from './state-dir.ts';

const fileSchema = z.object({ newest: z.number().int().min(0) });

export type TokenVerdict = { readonly ok: true } | { readonly ok: false; readonly newest: number };

/**
 * The newest fencing token seen from a controller leader, kept in a file (when given). A request
 * carrying an older token comes from a deposed leader and is refused; a newer one raises the
 * newest, on disk before the request runs, so a restarted agent still refuses the old leader.
 */
export class FencingToken {
  private value: number | undefined;

  constructor(private readonly file?: string) {
    if (!file) return;
    const json = readJsonFile(file);
    if (json === undefined) return;
    const r = fileSchema.safeParse(json);
    // A wrong token file is not guessed around: a guess could readmit a deposed leader.
    if (!r.success) throw new StateDirError(file, `not a fencing token file: ${r.error.issues[0]?.message}`);
    this.value = r.data.newest;
  }

  get newest(): number | undefined {
    return this.value;
  }

  /** Requests without a token (tools, tests) pass and change nothing. */
  admit(token: number | undefined): TokenVerdict {
    if (token === undefined) return { ok: true };
    if (this.value !== undefined && token < this.value) return { ok: false, newest: this.value };
    if (this.value === undefined || token > this.value) {
      if (this.file) writeFileAtomic(this.file, JSON.stringify({ newest: token }));
      this.value = token;
    }
    return { ok: true };
  }
}
