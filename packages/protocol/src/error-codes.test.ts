import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { EntropyError } from './entropy-error.ts';
import { ERROR_CODES, ErrorCode } from './error-codes.ts';

const PACKAGES = fileURLToPath(new URL('../..', import.meta.url));
/** The packages that ship: test helpers and benches may throw what they like. */
const PRODUCTION = ['protocol', 'engine', 'nats-client', 'controller', 'agent'];
/** Environment variables, not error codes. */
const NOT_CODES = new Set(['ENTROPY_SIM_FAIL', 'ENTROPY_NODE']);
/** The NATS client's settings (ENTROPY_NATS_URL, _CREDS, _USER, ...); ENTROPY_NATS_AUTH is the error code. */
const NATS_ENV = /^ENTROPY_NATS_(?!AUTH$)/;

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return e.name === 'node_modules' || e.name === 'dist' ? [] : sources(path);
    return e.name.endsWith('.ts') && !e.name.endsWith('.test.ts') ? [path] : [];
  });
}

describe('the error code registry (error-codes.ts)', () => {
  it('holds every code a shipped source file uses, each written through the registry', () => {
    const files = PRODUCTION.flatMap((p) => sources(join(PACKAGES, p, 'src')));
    expect(files.length).toBeGreaterThan(100);
    const unknown: string[] = [];
    const literal = /['"`](ENTROPY_[A-Z0-9_]+)['"`]/g;
    for (const file of files) {
      if (file.endsWith('error-codes.ts')) continue;
      const text = readFileSync(file, 'utf8');
      for (const m of text.matchAll(literal)) {
        const code = m[1]!;
        // An .env() option reads an environment variable of the same family of names.
        if (NOT_CODES.has(code) || NATS_ENV.test(code) || text.includes(`.env('${code}')`)) continue;
        if (!ERROR_CODES.has(code as never)) unknown.push(`${file}: ${code}`);
        else unknown.push(`${file}: ${code} written as a string instead of through the registry`);
      }
    }
    expect(unknown).toEqual([]);
  });

  it('every error class of the shipped packages extends EntropyError', () => {
    const files = PRODUCTION.flatMap((p) => sources(join(PACKAGES, p, 'src')));
    const others = files.flatMap((file) =>
      [...readFileSync(file, 'utf8').matchAll(/class (\w+) extends (\w*Error)\b/g)]
        .filter((m) => m[2] === 'Error' && m[1] !== 'EntropyError')
        .map((m) => `${file}: ${m[1]}`),
    );
    expect(others).toEqual([]);
  });

  it('codes follow one pattern, and an EntropyError carries its code and context', () => {
    for (const code of ERROR_CODES) expect(code).toMatch(/^ENTROPY_[A-Z0-9_]+$/);
    const e = new EntropyError(ErrorCode.Io, 'x: cannot read (ENOENT)', { context: { file: 'x' } });
    expect(e).toMatchObject({ code: 'ENTROPY_IO', context: { file: 'x' }, message: 'x: cannot read (ENOENT)' });
    expect(e).toBeInstanceOf(Error);
  });
});
