import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { planCommand } from './plan-command.ts';

const dir = mkdtempSync(join(tmpdir(), 'entropy-plan-'));
const file = (name: string, json: unknown) => {
  const path = join(dir, name);
  writeFileSync(path, JSON.stringify(json));
  return path;
};

/** Three empty-enough nodes; vjob a (2 VMs) wanted running, b running on n1. */
const instance = (constraints: unknown[]) => ({
  nodes: ['n1', 'n2', 'n3'].map((id) => ({ id, cpu: 4, mem: 4096 })),
  vms: [
    { id: 'a1', vjob: 'a', cpu: 1, mem: 512, state: 'waiting' },
    { id: 'a2', vjob: 'a', cpu: 1, mem: 512, state: 'waiting' },
    { id: 'b1', vjob: 'b', cpu: 1, mem: 512, state: 'running', host: 'n1' },
  ],
  vjobs: [{ id: 'a' }, { id: 'b' }],
  decision: { a: 'running' },
  constraints,
});

describe('entropy plan: an Entropy instance with constraints', () => {
  it('places within the constraints (spread and ban given with the vjob shorthand)', () => {
    const r = planCommand(
      file(
        'ok.json',
        instance([
          { type: 'spread', vjob: 'a' },
          { type: 'ban', vjob: 'a', nodes: ['n1'] },
        ]),
      ),
      { json: true },
    );
    expect(r.exitCode).toBe(0);
    const runs = JSON.parse(r.output).actions.map((x: { vm: string; to: string }) => `${x.vm}@${x.to}`);
    expect(runs.sort()).toEqual(['a1@n2', 'a2@n3']);
  });

  it('names the conflicting constraints, not a lack of room, when nodes are empty', () => {
    const conflicting = [
      { type: 'fence', vm: 'a1', nodes: ['n2'] },
      { type: 'ban', vm: 'a1', nodes: ['n2'] },
      { type: 'spread', vjob: 'a' },
    ];
    const r = planCommand(file('conflict.json', instance(conflicting)));
    expect(r.exitCode).toBe(2);
    expect(r.output.split('\n')[0]).toBe(
      'infeasible: fence(a1, {n2}, discrete) and ban(a1, {n2}, discrete) leave a1 no node',
    );
    const json = JSON.parse(planCommand(file('conflict.json', instance(conflicting)), { json: true }).output);
    expect(json.conflict.constraints.map((c: { type: string }) => c.type).sort()).toEqual(['ban', 'fence']);
  });
});
