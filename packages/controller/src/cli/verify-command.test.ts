import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ErrorCode, InvalidInputError } from '@entropy/protocol';
import { verifyCommand } from './verify-command.ts';

const dir = mkdtempSync(join(tmpdir(), 'entropy-verify-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, json: unknown): string {
  const path = join(dir, name);
  writeFileSync(path, JSON.stringify(json));
  return path;
}

// n1 is full; v1 moves to n2 so that v2 can boot on n1.
const instance = file('instance.json', {
  nodes: [
    { id: 'n1', cpu: 1, mem: 1024 },
    { id: 'n2', cpu: 1, mem: 1024 },
  ],
  vms: [
    { id: 'v1', vjob: 'j1', cpu: 1, mem: 1024, state: 'running', host: 'n1' },
    { id: 'v2', vjob: 'j2', cpu: 1, mem: 1024, state: 'waiting' },
  ],
  vjobs: [{ id: 'j1' }, { id: 'j2' }],
  decision: { j2: 'running' },
});
const migrate = { id: 'a1', type: 'migrate', vm: 'v1', vjob: 'j1', from: 'n1', to: 'n2', start: 0, end: 1024, step: 0 };
const run = {
  id: 'a2',
  type: 'run',
  vm: 'v2',
  vjob: 'j2',
  to: 'n1',
  start: 1024,
  end: 6024,
  step: 1,
  dependsOn: ['a1'],
};
const plan = (actions: object[]) => ({
  feasible: true,
  actions,
  steps: 2,
  makespan: 6024,
  sumCompletion: 7048,
  solveMs: 1,
});

describe('entropy verify', () => {
  it('exits 0 and counts actions and steps when the plan is valid', () => {
    expect(verifyCommand(instance, file('ok.json', plan([migrate, run])))).toEqual({
      output: 'plan verified: 2 actions, 2 steps',
      exitCode: 0,
    });
  });

  it('exits 3 with the first violation', () => {
    const early = { ...run, start: 0, end: 5000, dependsOn: [] };
    const result = verifyCommand(instance, file('early.json', plan([migrate, early])));
    expect(result.exitCode).toBe(3);
    expect(result.output).toContain(
      "plan violation (capacity): node 'n1' is over capacity in cpu: usage 2 > capacity 1 at t=0",
    );
  });

  it('exits 3 when the plan says the instance is infeasible', () => {
    const result = verifyCommand(
      instance,
      file('infeasible.json', { feasible: false, reason: 'node n3 lacks 2048 MiB', solveMs: 2 }),
    );
    expect(result).toEqual({
      output: 'nothing to verify: the plan says infeasible (node n3 lacks 2048 MiB)',
      exitCode: 3,
    });
  });

  it('throws an InvalidInputError naming the path of a malformed plan', () => {
    const bad = file('bad.json', plan([{ ...migrate, type: 'teleport' }]));
    expect(() => verifyCommand(instance, bad)).toThrow(InvalidInputError);
    expect(() => verifyCommand(instance, bad)).toThrow(
      expect.objectContaining({ code: ErrorCode.InvalidPlan, message: expect.stringContaining('$.actions[0].type') }),
    );
  });

  it('runs as a process: exit 0, 3, and 1 without a stack trace on a malformed plan', () => {
    const cli = resolve(import.meta.dirname, '../../bin/entropy.js');
    const entropy = (...args: string[]) => spawnSync(process.execPath, [cli, 'verify', ...args], { encoding: 'utf8' });
    const ok = entropy(instance, file('ok2.json', plan([migrate, run])));
    expect(ok.status, ok.stderr).toBe(0);
    expect(ok.stdout).toContain('plan verified: 2 actions, 2 steps');
    const violated = entropy(instance, file('violated.json', plan([migrate])));
    expect(violated.status).toBe(3);
    expect(violated.stdout).toContain(
      "plan violation (final-state): VM 'v2' ends waiting but the decision wants vjob 'j2' running",
    );
    const malformed = entropy(
      instance,
      file('malformed.json', { feasible: true, actions: [{ id: 'a1' }], steps: 'two' }),
    );
    expect(malformed.status).toBe(1);
    expect(malformed.stderr).toContain('$.actions[0].type');
    expect(malformed.stderr).not.toMatch(/\n\s+at /);
  });
});

describe("entropy plan and verify with an Entropy instance's constraints", () => {
  // Same cluster, but j2's VM is banned from n1: the plan of the file without constraints breaks it.
  const banned = file('banned.json', {
    nodes: [
      { id: 'n1', cpu: 1, mem: 1024 },
      { id: 'n2', cpu: 1, mem: 1024 },
    ],
    vms: [
      { id: 'v1', vjob: 'j1', cpu: 1, mem: 1024, state: 'running', host: 'n1' },
      { id: 'v2', vjob: 'j2', cpu: 1, mem: 1024, state: 'waiting' },
    ],
    vjobs: [{ id: 'j1' }, { id: 'j2' }],
    decision: { j2: 'running' },
    constraints: [{ type: 'ban', vjob: 'j2', nodes: ['n1'] }],
  });

  it('verify refuses a plan that breaks a constraint, and plan finds one that keeps it', async () => {
    const broken = verifyCommand(banned, file('broken.json', plan([migrate, run])));
    expect(broken.exitCode).toBe(3);
    expect(broken.output).toContain('ban(v2, {n1}');
    const { planCommand } = await import('./plan-command.ts');
    const planned = planCommand(banned, { json: true });
    expect(planned.exitCode).toBe(0);
    const json = JSON.parse(planned.output) as { actions: { vm: string; to?: string }[] };
    expect(json.actions.find((a) => a.vm === 'v2')?.to).toBe('n2');
    expect(verifyCommand(banned, file('kept.json', json)).exitCode).toBe(0);
  });
});
