import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const example = fileURLToPath(new URL('../examples/library.ts', import.meta.url));

describe("the engine README's example", () => {
  it('runs as a program of its own: a plan that suspends a to run b, verified', async () => {
    const { stdout } = await run(process.execPath, ['--import', 'tsx', example]);
    const lines = stdout.trim().split('\n');
    // a's VMs pause together, then are suspended, and only then b's VMs run.
    expect(lines.filter((l) => l.includes('pause')).map((l) => l.split(/\s+/)[1])).toEqual(['0', '0']);
    expect(lines.some((l) => /run\s+b1/.test(l))).toBe(true);
    expect(lines.at(-1)).toMatch(/^6 actions in 3 steps, \d+ ms; verified: true$/);
  });
});
