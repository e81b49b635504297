import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ErrorCode } from '@entropy/protocol';
import { xmlProblem } from '@entropy/test-support/well-formed-xml.ts';
import { ganttCommand } from './gantt-command.ts';

const dir = mkdtempSync(join(tmpdir(), 'entropy-gantt-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const cli = resolve(import.meta.dirname, '../../bin/entropy.js');
const entropy = (...args: string[]) => spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8' });

describe('entropy gantt', () => {
  it('writes a well-formed SVG of a plan file (entropy plan --json), as a process: exit 0', () => {
    const planned = entropy('plan', resolve(import.meta.dirname, '../../../../examples/small.json'), '--json');
    expect(planned.status, planned.stderr).toBe(0);
    const planFile = join(dir, 'small-plan.json');
    writeFileSync(planFile, planned.stdout);
    const out = join(dir, 'small.svg');
    const r = entropy('gantt', planFile, '--out', out);
    expect(r.status, r.stderr).toBe(0);
    const actions = (JSON.parse(planned.stdout) as { actions: unknown[] }).actions.length;
    expect(r.stdout.trim()).toBe(`wrote ${out}: ${actions} actions`);
    const svg = readFileSync(out, 'utf8');
    expect(xmlProblem(svg)).toBeUndefined();
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    expect(svg).toContain(`plan ${planFile}`);
  });

  it('refuses, in one line naming what is wrong: no plan, both a file and --plan, an infeasible plan, a bad plan id', async () => {
    const out = join(dir, 'x.svg');
    await expect(ganttCommand(undefined, { out })).rejects.toMatchObject({
      code: ErrorCode.InvalidPlan,
      message: 'gantt: give a plan file or --plan ID (a plan in the journal), not both',
    });
    await expect(ganttCommand('p.json', { out, plan: 'p1' })).rejects.toMatchObject({ code: ErrorCode.InvalidPlan });
    const infeasible = join(dir, 'infeasible.json');
    writeFileSync(infeasible, JSON.stringify({ feasible: false, reason: 'no room', solveMs: 1 }));
    await expect(ganttCommand(infeasible, { out })).rejects.toMatchObject({
      message: `${infeasible}: $.feasible: the plan is infeasible (no room): nothing to draw`,
    });
    await expect(ganttCommand(undefined, { out, plan: 'a.b' })).rejects.toMatchObject({
      message: expect.stringMatching(/^--plan: "a\.b" is not a plan id/),
    });
    const r = entropy('gantt', join(dir, 'missing.json'), '--out', out);
    expect(r.status).toBe(1);
    expect(r.stderr.trim().split('\n')).toEqual([expect.stringContaining('missing.json: cannot read (ENOENT)')]);
  });
});
