import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ErrorCode } from '@entropy/protocol';
import type { FeasiblePlan } from '@entropy/engine';
import { calibrateCommand } from './calibrate-command.ts';
import { planCommand } from './plan-command.ts';

const dir = mkdtempSync(join(tmpdir(), 'entropy-calibrate-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

/** Measured on a cluster whose migrations cost 200 ms + 3 ms/MiB and whose boots 2 s, with one slow outlier. */
const results = file(
  'results.jsonl',
  [
    ...[512, 1024, 1536, 2048, 3072, 4096].map((mem, i) => ({
      kind: 'migrate',
      mem,
      durationMs: 200 + 3 * mem + (i % 2 === 0 ? 5 : -5),
      node: 'n1',
      type: 'migrate',
      vm: `v${i}`,
    })),
    { kind: 'migrate', mem: 1024, durationMs: 40_000, node: 'n1' },
    ...[256, 512, 1024].map((mem) => ({ kind: 'run', mem, durationMs: 2000 })),
  ]
    .map((l) => JSON.stringify(l))
    .join('\n') + '\n',
);

// n1 is overloaded: v2 (1024 MiB) migrates to n2, and v3 boots.
const instance = file(
  'instance.json',
  JSON.stringify({
    nodes: [
      { id: 'n1', cpu: 4, mem: 8192 },
      { id: 'n2', cpu: 4, mem: 8192 },
    ],
    vms: [
      { id: 'v1', vjob: 'j1', cpu: 3, mem: 2048, state: 'running', host: 'n1' },
      { id: 'v2', vjob: 'j2', cpu: 3, mem: 1024, state: 'running', host: 'n1' },
      { id: 'v3', vjob: 'j3', cpu: 1, mem: 512, state: 'waiting' },
    ],
    vjobs: [{ id: 'j1' }, { id: 'j2' }, { id: 'j3' }],
    decision: { j3: 'running' },
  }),
);

const durations = (output: string) =>
  Object.fromEntries((JSON.parse(output) as FeasiblePlan).actions.map((a) => [a.type, a.end - a.start]));

describe('entropy calibrate', () => {
  it('fits a results file, writes a cost-model file, and entropy plan --cost-model plans with it', async () => {
    const out = join(dir, 'model.json');
    const r = await calibrateCommand({ results: [results], out });
    expect(r.exitCode).toBe(0);
    expect(r.output).toContain(`10 samples: 10 from ${results}; wrote ${out}`);
    expect(r.output).toMatch(/^migrate\s+7\s+1\s+0 \+ 1\.00 x mem\s+20\d \+ 3\.00 x mem\s+6\d\.\d% -> 0\.\d%/m);
    expect(r.output).toMatch(/^run\s+3\s+0\s+5000 \+ 0 x mem\s+2000 \+ 0 x mem\s+150\.0% -> 0\.0%/m);
    const model = JSON.parse(readFileSync(out, 'utf8')) as Record<string, { base: number; perMiB: number }>;
    expect(Math.abs(model.migrate!.base - 200)).toBeLessThan(5);
    expect(model.migrate!.perMiB).toBeCloseTo(3, 2);
    expect(model.run).toEqual({ base: 2000, perMiB: 0 });
    expect(model.stop).toEqual({ base: 1000, perMiB: 0 });

    const before = durations(planCommand(instance, { json: true }).output);
    expect(before).toEqual({ migrate: 1024, run: 5000 });
    const after = durations(planCommand(instance, { json: true, costModel: out }).output);
    expect(after.migrate).toBeCloseTo(200 + 3 * 1024, -1);
    expect(after.run).toBe(2000);
  });

  it('starts from a base model: kinds without samples keep its lines', async () => {
    const base = file('base.json', JSON.stringify({ stop: { base: 1234 }, suspend: { perMiB: 7 } }));
    const out = join(dir, 'from-base.json');
    await calibrateCommand({ results: [results], base, out });
    const model = JSON.parse(readFileSync(out, 'utf8')) as Record<string, { base: number; perMiB: number }>;
    expect(model.stop).toEqual({ base: 1234, perMiB: 0 });
    expect(model.suspend).toEqual({ base: 0, perMiB: 7 });
  });

  it('names the file, line and field of a bad results line, and the field of a bad cost-model file', async () => {
    const bad = file(
      'bad.jsonl',
      `${JSON.stringify({ kind: 'migrate', mem: 1, durationMs: 2 })}\n${JSON.stringify({ kind: 'teleport', mem: 1, durationMs: 2 })}\n`,
    );
    await expect(calibrateCommand({ results: [bad], out: join(dir, 'x.json') })).rejects.toMatchObject({
      code: ErrorCode.InvalidResults,
      message: expect.stringMatching(/bad\.jsonl:2: \$\.kind: must be one of run, stop, .* got "teleport"$/),
    });
    const negative = file('negative.json', JSON.stringify({ migrate: { perMiB: -1 } }));
    await expect(
      calibrateCommand({ results: [results], base: negative, out: join(dir, 'x.json') }),
    ).rejects.toMatchObject({
      code: ErrorCode.InvalidCostModel,
      message: `${negative}: $.migrate.perMiB: must not be negative`,
    });
    expect(() =>
      planCommand(instance, { costModel: file('unknown.json', JSON.stringify({ nodes: { n1: { teleport: {} } } })) }),
    ).toThrow(
      expect.objectContaining({
        code: ErrorCode.InvalidCostModel,
        message: expect.stringContaining("$.nodes.n1.teleport: unknown field 'teleport'"),
      }),
    );
    await expect(calibrateCommand({ out: join(dir, 'x.json') })).rejects.toMatchObject({
      message: 'calibrate: no samples to read: give --results FILE or --journal',
    });
    await expect(
      calibrateCommand({ results: [file('empty.jsonl', '\n')], out: join(dir, 'x.json') }),
    ).rejects.toMatchObject({ message: expect.stringContaining('calibrate: no samples') });
  });

  it('runs as processes: entropy calibrate, then entropy plan --cost-model; a bad file is one line, exit 1', () => {
    const cli = resolve(import.meta.dirname, '../../bin/entropy.js');
    const entropy = (...args: string[]) => spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8' });
    const out = join(dir, 'process-model.json');
    const cal = entropy('calibrate', '--results', results, '--out', out);
    expect(cal.status, cal.stderr).toBe(0);
    const plan = entropy('plan', instance, '--json', '--cost-model', out);
    expect(plan.status, plan.stderr).toBe(0);
    expect(durations(plan.stdout).run).toBe(2000);
    const bad = entropy('plan', instance, '--cost-model', file('bad-model.json', '{"run": {"base": "slow"}}'));
    expect(bad.status).toBe(1);
    expect(bad.stderr.trim().split('\n')).toEqual([
      expect.stringContaining('bad-model.json: $.run.base: must be a number'),
    ]);
  });
});
