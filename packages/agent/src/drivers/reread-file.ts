import { readFileSync, statSync } from 'node:fs';

/**
 * A file a test or an operator may write, change or remove while the agent runs, parsed again
 * only when it changed (one stat per read). A file that does not parse (being written) leaves the
 * previous value in force until it does; no file is `empty`.
 */
export class RereadFile<T> {
  private value: T;
  private version: string | undefined;

  constructor(
    private readonly file: string,
    private readonly parse: (text: string, file: string) => T,
    private readonly empty: T,
  ) {
    this.value = empty;
  }

  current(): T {
    let version: string;
    try {
      const st = statSync(this.file, { bigint: true });
      version = `${st.ino}:${st.size}:${st.mtimeNs}`;
    } catch {
      this.value = this.empty;
      this.version = undefined;
      return this.value;
    }
    if (version === this.version) return this.value;
    try {
      this.value = this.parse(readFileSync(this.file, 'utf8'), this.file);
      this.version = version;
    } catch {
      // Half written: keep the previous value and look again next time.
    }
    return this.value;
  }
}
