import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { loadIncreaseInstance, networkInstance, tinyInstance } from '@entropy/test-support/btrplace-fixtures.ts';
import { EntropyError, ErrorCode, InvalidInputError } from '@entropy/protocol';
import { planCommand } from './plan-command.ts';
import { verifyCommand } from './verify-command.ts';

const dir = mkdtempSync(join(tmpdir(), 'entropy-verify-btrplace-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, json: unknown, gz = false): string {
  const path = join(dir, name);
  writeFileSync(path, gz ? gzipSync(JSON.stringify(json)) : JSON.stringify(json));
  return path;
}

function thrown(f: () => unknown): EntropyError {
  try {
    f();
  } catch (err) {
    expect(err).toBeInstanceOf(EntropyError);
    return err as EntropyError;
  }
  throw new Error('expected an EntropyError');
}

// vm2 must run and is fenced to n0; vm1 must sleep; the planner puts vm2 on n0 and suspends vm1 there.
const instance = file(
  'i.json.gz',
  tinyInstance([
    { id: 'running', vm: 2 },
    { id: 'fence', vm: 2, nodes: [0], continuous: false },
    { id: 'sleeping', vm: 1 },
  ]),
  true,
);
const entropyPlan = JSON.parse(planCommand(instance, { format: 'btrplace', json: true }).output);
const btrplacePlan = JSON.parse(planCommand(instance, { format: 'btrplace', outputFormat: 'btrplace' }).output);
const FENCE_VIOLATED =
  'plan violation (constraint): fence(vm2, {n0}, discrete) is violated: VM vm2 runs on node n1, outside its fence, at the end';

describe('entropy verify --format btrplace', () => {
  it("accepts entropy plan --json's plan of a gzip-compressed BtrPlace instance", () => {
    expect(
      entropyPlan.actions.map((a: { type: string; vm: string; to?: string }) =>
        `${a.type} ${a.vm} ${a.to ?? ''}`.trim(),
      ),
    ).toEqual(expect.arrayContaining(['run vm2 n0', 'pause vm1', 'suspend vm1']));
    const r = verifyCommand(instance, file('ok.json', entropyPlan), { format: 'btrplace' });
    expect(r).toEqual({
      output: `plan verified: ${entropyPlan.actions.length} actions, ${entropyPlan.steps} steps`,
      exitCode: 0,
    });
  });

  it('rejects a plan that breaks a constraint of the instance, naming the constraint', () => {
    const tampered = {
      ...entropyPlan,
      target: undefined,
      actions: entropyPlan.actions.map((a: { vm: string }) => (a.vm === 'vm2' ? { ...a, to: 'n1' } : a)),
    };
    expect(verifyCommand(instance, file('tampered.json', tampered), { format: 'btrplace' })).toEqual({
      output: FENCE_VIOLATED,
      exitCode: 3,
    });
  });

  it("accepts entropy plan --output-format btrplace's plan (BtrPlace's plan JSON), told apart by its content", () => {
    expect(btrplacePlan.actions.map((a: { id: string }) => a.id).sort()).toEqual(['bootVM', 'suspendVM']);
    expect(verifyCommand(instance, file('ok-btrplace.json', btrplacePlan), { format: 'btrplace' }).exitCode).toBe(0);
  });

  it('rejects a tampered BtrPlace plan, naming the constraint', () => {
    const tampered = {
      ...btrplacePlan,
      actions: btrplacePlan.actions.map((a: { id: string }) => (a.id === 'bootVM' ? { ...a, on: 1 } : a)),
    };
    expect(verifyCommand(instance, file('tampered-btrplace.json', tampered), { format: 'btrplace' })).toEqual({
      output: FENCE_VIOLATED,
      exitCode: 3,
    });
  });

  it('rejects a BtrPlace plan that leaves out an action the instance needs', () => {
    const partial = {
      ...btrplacePlan,
      actions: btrplacePlan.actions.filter((a: { id: string }) => a.id !== 'suspendVM'),
    };
    const r = verifyCommand(instance, file('partial-btrplace.json', partial), { format: 'btrplace' });
    expect(r.exitCode).toBe(3);
    expect(r.output).toMatch(/^plan violation \(final-state\): VM 'vm1' ends running/);
  });

  it('reads a BtrPlace plan of an Entropy instance, and checks a vjob suspended as one group', () => {
    const entropyInstance = file('e.json', {
      nodes: [{ id: 'a', cpu: 2, mem: 2048 }],
      vms: [
        { id: 'x', vjob: 'j', cpu: 1, mem: 512, state: 'running', host: 'a' },
        { id: 'y', vjob: 'j', cpu: 1, mem: 256, state: 'running', host: 'a' },
      ],
      vjobs: [{ id: 'j' }],
      decision: { j: 'sleeping' },
    });
    const plan = JSON.parse(planCommand(entropyInstance, { outputFormat: 'btrplace' }).output);
    expect(plan.actions.map((a: { id: string; vm: number }) => `${a.id} ${a.vm}`).sort()).toEqual([
      'suspendVM 0',
      'suspendVM 1',
    ]);
    expect(verifyCommand(entropyInstance, file('e-plan.json', plan)).exitCode).toBe(0);
    const half = { ...plan, actions: plan.actions.filter((a: { vm: number }) => a.vm === 0) };
    expect(verifyCommand(entropyInstance, file('e-half.json', half)).output).toMatch(
      /^plan violation \(synchrony\): .*'y'/,
    );
  });

  it('reports an unknown BtrPlace action by its JSON path (ENTROPY_INVALID_PLAN)', () => {
    const path = file('unknown-action.json', {
      ...btrplacePlan,
      actions: [{ id: 'teleportVM', start: 0, end: 1, vm: 2 }],
    });
    const err = thrown(() => verifyCommand(instance, path, { format: 'btrplace' }));
    expect(err).toBeInstanceOf(InvalidInputError);
    expect(err.code).toBe(ErrorCode.InvalidPlan);
    expect(err.message).toMatch(
      new RegExp(`^${path}: \\$\\.actions\\[0\\]\\.id: unknown action 'teleportVM' \\(supported: [^\\n]*\\)$`),
    );
  });

  it('rejects a format it does not know, naming --format', () => {
    const err = thrown(() => verifyCommand(instance, file('ok2.json', entropyPlan), { format: 'xml' as never }));
    expect(err.code).toBe(ErrorCode.InvalidInstance);
    expect(err.message).toBe("--format: unknown format 'xml' (expected entropy or btrplace)");
  });

  it('reports a BtrPlace instance read as an Entropy one on one line, with the count of further problems', () => {
    const err = thrown(() => verifyCommand(instance, file('ok3.json', entropyPlan)));
    expect(err.code).toBe(ErrorCode.InvalidInstance);
    expect(err.message).toMatch(new RegExp(`^${instance}: \\$\\.nodes: [^\\n]* \\(and \\d+ more problems\\)$`));
  });

  it('runs as a process: exit 0 and 3, and one-line errors (exit 1) for a bad --format value or an unreadable file', () => {
    const cli = resolve(import.meta.dirname, '../../bin/entropy.js');
    const entropy = (...args: string[]) => spawnSync(process.execPath, [cli, 'verify', ...args], { encoding: 'utf8' });
    const ok = entropy('--format', 'btrplace', instance, file('p-ok.json', btrplacePlan));
    expect(ok.status, ok.stderr).toBe(0);
    expect(ok.stdout).toMatch(/^plan verified: /);
    const tampered = {
      ...btrplacePlan,
      actions: btrplacePlan.actions.map((a: { id: string }) => (a.id === 'bootVM' ? { ...a, on: 1 } : a)),
    };
    const violated = entropy('--format', 'btrplace', instance, file('p-bad.json', tampered));
    expect(violated.status).toBe(3);
    expect(violated.stdout).toBe(`${FENCE_VIOLATED}\n`);
    const badFormat = entropy('--format', 'xml', instance, file('p-ok2.json', btrplacePlan));
    expect(badFormat.status).toBe(1);
    expect(badFormat.stderr).toBe(
      "error: option '--format <format>' argument 'xml' is invalid. Allowed choices are entropy, btrplace.\n",
    );
    const missing = join(dir, 'missing.json');
    const unreadable = entropy('--format', 'btrplace', missing, file('p-ok3.json', btrplacePlan));
    expect(unreadable.status).toBe(1);
    expect(unreadable.stderr).toBe(`error: ${missing}: cannot read (ENOENT)\n`);
    const notJson = join(dir, 'not-json.json');
    writeFileSync(notJson, '{ "actions": [');
    const badPlan = entropy('--format', 'btrplace', instance, notJson);
    expect(badPlan.status).toBe(1);
    expect(badPlan.stderr).toMatch(new RegExp(`^error: ${notJson}: not valid JSON \\([^\\n]*\\)\\n$`));
  });

  it('checks capacity over time with allocate actions: an allocate before its node has room is a violation', () => {
    const li = file('li.json', loadIncreaseInstance());
    const plan = JSON.parse(planCommand(li, { format: 'btrplace', outputFormat: 'btrplace' }).output);
    expect(verifyCommand(li, file('li-ok.json', plan), { format: 'btrplace' }).exitCode).toBe(0);
    type Action = { id: string; vm: number; start: number; end: number };
    const early = {
      ...plan,
      actions: plan.actions.map((a: Action) => (a.id === 'allocate' ? { ...a, start: 0, end: 0 } : a)),
    };
    const r = verifyCommand(li, file('li-early.json', early), { format: 'btrplace' });
    expect(r.exitCode).toBe(3);
    expect(r.output).toMatch(
      /^plan violation \(capacity\): node 'n0' is over capacity in uCpu: usage 2\d\d > capacity 200 at t=0 \(allocate 'a\d+' raises VM 'vm[01]'/,
    );
  });

  it("checks the network view's links: migrations that share a link at once are a violation", () => {
    const net = file('net.json', networkInstance());
    const plan = JSON.parse(planCommand(net, { format: 'btrplace', outputFormat: 'btrplace' }).output);
    expect(verifyCommand(net, file('net-ok.json', plan), { format: 'btrplace' }).exitCode).toBe(0);
    type Action = { id: string; start: number; end: number };
    const atOnce = { ...plan, actions: plan.actions.map((a: Action) => ({ ...a, start: 0, end: a.end - a.start })) };
    const r = verifyCommand(net, file('net-at-once.json', atOnce), { format: 'btrplace' });
    expect(r.exitCode).toBe(3);
    expect(r.output).toMatch(
      /^plan violation \(network\): link 10 \(n0, outbound\) carries 3000 > capacity 1000 at t=0/,
    );
  });
});
