import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach } from 'vitest';

/** For each test of the calling suite, a fresh empty directory, removed after it. */
export function tempDirPerTest(prefix: string): { readonly path: string } {
  let current: string | undefined;
  beforeEach(async () => void (current = await mkdtemp(join(tmpdir(), prefix))));
  afterEach(async () => {
    if (current) await rm(current, { recursive: true, force: true });
    current = undefined;
  });
  return {
    get path() {
      if (!current) throw new Error('tempDirPerTest: used outside a test');
      return current;
    },
  };
}
