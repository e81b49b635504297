import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseInstance } from '@entropy/engine';
import { EntropyError, ErrorCode } from '@entropy/protocol';
import { afterAll, describe, expect, it } from 'vitest';
import { readJsonFile } from './io.ts';

describe('reading an instance file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'entropy-instance-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  function errorOf(run: () => unknown): EntropyError {
    try {
      run();
    } catch (err) {
      expect(err).toBeInstanceOf(EntropyError);
      return err as EntropyError;
    }
    throw new Error('expected an error');
  }

  it('rejects invalid JSON as an invalid instance naming the file', () => {
    const file = join(dir, 'broken.json');
    writeFileSync(file, '{ "nodes": [ }');
    const err = errorOf(() => readJsonFile(file));
    expect(err.code).toBe(ErrorCode.InvalidInstance);
    expect(err.message).toMatch(new RegExp(`^${file}: not valid JSON \\(.+\\)$`));
  });

  it('rejects a missing file as an I/O error naming the file and the cause', () => {
    const file = join(dir, 'absent.json');
    const err = errorOf(() => readJsonFile(file));
    expect(err.code).toBe(ErrorCode.Io);
    expect(err.message).toBe(`${file}: cannot read (ENOENT)`);
  });

  it('names the file in the paths of a malformed instance', () => {
    const file = join(dir, 'cluster.json');
    writeFileSync(
      file,
      JSON.stringify({
        nodes: [{ id: 'n1', cpu: 8, mem: 16384, state: 'online' }],
        vms: [{ id: 'v1', vjob: 'j1', cpu: 2, mem: 2048, state: 'running', host: 'n9' }],
        vjobs: [{ id: 'j1' }],
      }),
    );
    const err = errorOf(() => parseInstance(readJsonFile(file), file));
    expect(err.code).toBe(ErrorCode.InvalidInstance);
    expect(err.message).toBe(`${file}: $.vms[0].host: unknown node 'n9'`);
  });
});
