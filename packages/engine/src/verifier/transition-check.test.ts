import { describe, expect, it } from 'vitest';
import type { ActionType } from '../model/lifecycle.ts';
import { verifyPlan } from './index.ts';
import {
  action,
  configuration,
  edit,
  node,
  plan,
  referenceCase,
  vm,
  type ActionSpec,
} from '@entropy/test-support/verifier-fixtures.ts';

describe('state transitions', () => {
  const { config, decision, actions, target } = referenceCase();

  it("reports an action the VM's state does not allow, naming the VM and what it needed", () => {
    // Suspending v1 without pausing it first: the life cycle wants paused.
    const withoutP1 = edit(edit(actions, 'p1', null), 's1', { dependsOn: ['p2'] });
    const changed = edit(withoutP1, 's2', { dependsOn: ['p2'] });
    const verdict = verifyPlan(config, decision, plan(changed, target));
    expect(verdict).toMatchObject({
      ok: false,
      violation: { kind: 'transition', vm: 'v1', vjob: 'j1', actionId: 's1', at: 10 },
    });
    if (!verdict.ok) expect(verdict.violation.message).toContain('it is running, a suspend needs paused');
  });

  it('reports two actions of one VM that overlap in time', () => {
    const changed = edit(actions, 's1', { start: 5 });
    const verdict = verifyPlan(config, decision, plan(changed, target));
    expect(verdict).toMatchObject({ ok: false, violation: { kind: 'transition', vm: 'v1', actionId: 's1' } });
    if (!verdict.ok)
      expect(verdict.violation.message).toContain("'p1' (pause, 0-10) and 's1' (suspend, 5-1034) overlap");
  });

  it('reports a run of a VM that already runs', () => {
    const changed = [...actions, action(config, 'x', 'run', 'v4', { to: 'n3', start: 2000, end: 2100, step: 1 })];
    const verdict = verifyPlan(config, decision, plan(changed, target));
    expect(verdict).toMatchObject({ ok: false, violation: { kind: 'transition', vm: 'v4', actionId: 'x' } });
  });

  it('accepts back-to-back actions of one VM (one ends when the next starts)', () => {
    const changed = [
      ...actions,
      action(config, 'm4b', 'migrate', 'v4', { from: 'n3', to: 'n2', start: 1024, end: 2048, step: 1 }),
    ];
    const t = { ...target, v4: { state: 'running', host: 'n2' } } as const;
    // n2 then holds v3, v5 and v4: 3 cpu on 2, so widen n2 for this test.
    const wide = {
      ...config,
      nodes: config.nodes.map((n) => (n.id === 'n2' ? { ...n, capacity: { cpu: 4, mem: 8192 } } : n)),
    };
    expect(verifyPlan(wide, decision, plan(changed, t))).toEqual({ ok: true });
  });

  it('accepts a paused VM migrated (it stays paused) and a paused VM stopped, each freeing its node', () => {
    const cut = configuration(
      [node('n1', 2, 4096), node('n2', 2, 4096)],
      [vm('m', 'jm', 'paused', 'n1'), vm('o', 'jm', 'paused', 'n1'), vm('x', 'jx', 'paused', 'n2')],
    );
    const a = (id: string, type: 'migrate' | 'unpause' | 'stop', vmId: string, spec: ActionSpec) =>
      action(cut, id, type, vmId, spec);
    const actions = [
      a('s', 'stop', 'x', { from: 'n2', start: 0, end: 1000, step: 0 }),
      a('m1', 'migrate', 'm', { from: 'n1', to: 'n2', start: 1000, end: 2024, step: 1, dependsOn: ['s'] }),
      a('u1', 'unpause', 'm', { from: 'n2', start: 2024, end: 2034, step: 2, dependsOn: ['m1'] }),
      a('u2', 'unpause', 'o', { from: 'n1', start: 2024, end: 2034, step: 2, dependsOn: ['m1'] }),
    ];
    const t = { m: { state: 'running', host: 'n2' }, o: { state: 'running', host: 'n1' } } as const;
    expect(verifyPlan(cut, { jx: 'terminated' }, plan(actions, t))).toEqual({ ok: true });
    // Without the stop, n2 has no room for the paused VM: x holds its resources until it ends.
    const crowded = [{ ...actions[1]!, start: 0, end: 1024, step: 0, dependsOn: [] }];
    const verdict = verifyPlan(cut, { jx: 'terminated' }, plan(crowded));
    expect(verdict.ok).toBe(false);
  });

  it('reports an unpause of a VM that is not paused', () => {
    const changed = [
      ...actions,
      action(config, 'u4', 'unpause', 'v4', { from: 'n3', start: 2000, end: 2010, step: 1 }),
    ];
    const verdict = verifyPlan(config, decision, plan(changed, target));
    expect(verdict).toMatchObject({ ok: false, violation: { kind: 'transition', vm: 'v4', actionId: 'u4' } });
    if (!verdict.ok) expect(verdict.violation.message).toContain('it is running, a unpause needs paused');
  });
});
