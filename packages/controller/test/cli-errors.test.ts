import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { generateInstanceJson } from '@entropy/test-support/generate-instance.ts';

/** `entropy plan` on malformed files, as a user runs it: a real process, exit code and stderr. */

const ENTROPY = fileURLToPath(new URL('../bin/entropy.js', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'entropy-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const valid = () => ({
  nodes: [
    { id: 'n1', cpu: 8, mem: 16384 },
    { id: 'n2', cpu: 8, mem: 16384, state: 'offline' },
  ],
  vms: [
    { id: 'v1', vjob: 'j1', cpu: 2, mem: 2048, state: 'running', host: 'n1' },
    { id: 'v2', vjob: 'j2', cpu: 1, mem: 1024, state: 'waiting' },
    { id: 'v3', vjob: 'j3', cpu: 1, mem: 1024, state: 'terminated' },
  ],
  vjobs: [{ id: 'j1' }, { id: 'j2' }, { id: 'j3' }],
  decision: { j2: 'running' } as Record<string, string>,
});
type Json = ReturnType<typeof valid> & Record<string, unknown>;

function plan(file: string) {
  const r = spawnSync(process.execPath, [ENTROPY, 'plan', file], { encoding: 'utf8', timeout: 60_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function writeInstance(name: string, change: (json: Json) => void): string {
  const json = valid() as Json;
  change(json);
  const file = join(dir, name);
  writeFileSync(file, JSON.stringify(json));
  return file;
}

/** Exit 1, nothing on stdout, one line on stderr and no stack trace. */
function expectOneLine(r: ReturnType<typeof plan>) {
  expect(r.status).toBe(1);
  expect(r.stdout).toBe('');
  expect(r.stderr).not.toContain('    at ');
  expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
}

function expectOneLineError(r: ReturnType<typeof plan>, message: string) {
  expectOneLine(r);
  expect(r.stderr).toBe(`error: ${message}\n`);
}

describe('entropy plan on a malformed instance', () => {
  it('plans the valid instance the cases start from', () => {
    const r = plan(writeInstance('valid.json', () => {}));
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
  });

  it.each<[string, (json: Json) => void, string]>([
    ['an unknown VM host', (j) => (j.vms[0]!.host = 'n9'), "$.vms[0].host: unknown node 'n9'"],
    ['a negative capacity', (j) => (j.nodes[0]!.cpu = -8), '$.nodes[0].cpu: must not be negative'],
    [
      'a string where a number is expected',
      (j) => ((j.vms[1] as Record<string, unknown>).mem = '1024'),
      '$.vms[1].mem: must be a number',
    ],
    [
      'an unknown field',
      (j) => ((j.nodes[0] as Record<string, unknown>).colour = 'red'),
      "$.nodes[0].colour: unknown field 'colour'",
    ],
    ['a duplicate vjob id', (j) => j.vjobs.push({ id: 'j1' }), "$.vjobs[3].id: duplicate vjob id 'j1'"],
    [
      'a running VM on an offline node',
      (j) => (j.vms[0]!.host = 'n2'),
      "$.vms[0].host: VM 'v1' runs on node 'n2', which is offline",
    ],
    ['a decision naming an unknown vjob', (j) => (j.decision = { j9: 'running' }), "$.decision.j9: unknown vjob 'j9'"],
  ])('exits 1 on %s with one line naming the file and the path', (_, change, detail) => {
    const file = writeInstance('case.json', change);
    expectOneLineError(plan(file), `${file}: ${detail}`);
  });

  it('exits 1 on a transition the life cycle forbids, naming the decision entry', () => {
    const file = writeInstance('terminated-to-running.json', (j) => (j.decision = { j3: 'running' }));
    const r = plan(file);
    expectOneLine(r);
    expect(r.stderr).toMatch(
      new RegExp(`^error: ${file}: \\$\\.decision\\.j3: vjob 'j3': VM 'v\\d+' is terminated: it cannot go to running `),
    );
  });

  it('lists several problems, one per line, still without a stack trace', () => {
    const file = writeInstance('two-problems.json', (j) => {
      j.vms[0]!.host = 'n9';
      j.decision = { j3: 'running' };
    });
    const r = plan(file);
    expect(r.status).toBe(1);
    expect(r.stderr).not.toContain('    at ');
    const lines = r.stderr.trimEnd().split('\n');
    expect(lines[0]).toBe(`error: ${file}: $.vms[0].host: unknown node 'n9'`);
    expect(lines[1]).toMatch(/^ {2}\$\.decision\.j3: vjob 'j3': VM 'v\d+' is terminated: it cannot go to running /);
    expect(lines).toHaveLength(2);
  });

  it('exits 1 on invalid JSON, naming the file', () => {
    const file = join(dir, 'broken.json');
    writeFileSync(file, '{ "nodes": [ }');
    const r = plan(file);
    expectOneLine(r);
    expect(r.stderr).toMatch(new RegExp(`^error: ${file}: not valid JSON \\(.+\\)\\n$`));
  });

  it('exits 1 on a missing file, naming it', () => {
    const file = join(dir, 'absent.json');
    expectOneLineError(plan(file), `${file}: cannot read (ENOENT)`);
  });
});

describe('entropy plan into a pipe closed early', () => {
  it('stops quietly, exit 0, when the reader stops reading (| head)', () => {
    const file = join(dir, 'large.json');
    writeFileSync(file, JSON.stringify(generateInstanceJson({ seed: 3, nodes: 200, vms: 2000 })));
    const r = spawnSync(
      'bash',
      ['-c', `set -o pipefail; "${process.execPath}" "${ENTROPY}" plan --json "${file}" | head -c 100 > /dev/null`],
      { encoding: 'utf8', timeout: 60_000 },
    );
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
  });
});
