import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ErrorCode, InvalidInputError, type Logger } from '@entropy/protocol';
import { readConstraintsFile, watchConstraintsFile } from './constraints-file.ts';

const dir = mkdtempSync(join(tmpdir(), 'entropy-constraints-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const write = (name: string, json: unknown) => {
  const path = join(dir, name);
  writeFileSync(path, typeof json === 'string' ? json : JSON.stringify(json));
  return path;
};

/** A logger that keeps its lines. */
function recording(): Logger & { lines: { level: string; o: object; msg?: string }[] } {
  const lines: { level: string; o: object; msg?: string }[] = [];
  const at =
    (level: string) =>
    (o: object, msg?: string): void =>
      void lines.push({ level, o, ...(msg !== undefined ? { msg } : {}) });
  return { lines, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') } as unknown as Logger & {
    lines: typeof lines;
  };
}

describe('the controller constraints file', () => {
  it('reads {"constraints": [...]}, and names the first problem of a bad one on one line', () => {
    expect(readConstraintsFile(write('ok.json', { constraints: [{ type: 'spread', vjob: 'j1' }] }))).toEqual([
      { type: 'spread', vjob: 'j1' },
    ]);
    const bad = write('bad.json', {
      constraints: [
        { type: 'ban', vm: 'v1' },
        { type: 'gather', vms: 3 },
      ],
    });
    try {
      readConstraintsFile(bad);
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(InvalidInputError);
      expect((err as InvalidInputError).code).toBe(ErrorCode.InvalidConstraints);
      expect((err as Error).message).toBe(`${bad}: $.constraints[0].nodes: is required (and 1 more problem)`);
    }
    expect(() => readConstraintsFile(write('list.json', []))).toThrow('$: must be an object {"constraints": [...]}');
  });

  it('a bad reload keeps the previous constraints and logs why; a good one applies and tells the controller', () => {
    const file = write('watched.json', { constraints: [{ type: 'root', vjob: 'j1' }] });
    const logger = recording();
    let changes = 0;
    const watched = watchConstraintsFile(file, logger, () => changes++, { pollMs: 60_000 });
    try {
      write('watched.json', '{"constraints": [{"type": "spread", "vjob": "j1"');
      expect(watched.reload('SIGHUP')).toBe(false);
      expect(watched.current()).toEqual([{ type: 'root', vjob: 'j1' }]);
      const error = logger.lines.find((l) => l.level === 'error');
      expect(error?.msg).toBe('constraints file not reloaded: the previous constraints stay');
      expect(error?.o).toMatchObject({ file, trigger: 'SIGHUP', code: ErrorCode.InvalidConstraints });
      expect(changes).toBe(0);

      write('watched.json', { constraints: [{ type: 'spread', vjob: 'j1' }] });
      process.emit('SIGHUP');
      expect(watched.current()).toEqual([{ type: 'spread', vjob: 'j1' }]);
      expect(changes).toBe(1);
    } finally {
      watched.close();
    }
  });
});
