import { describe, expect, it } from 'vitest';
import { verifyPlan } from './index.ts';
import { action, edit, plan, referenceCase } from './test-fixtures.ts';

describe('state transitions', () => {
  const { config, decision, actions, target } = referenceCase();

  it('reports an action the VM\'s state does not allow, naming the VM and what it needed', () => {
    // Suspending v1 without pausing it first: the life cycle wants paused.
    const withoutP1 = edit(edit(actions, 'p1', null), 's1', { dependsOn: ['p2'] });
    const changed = edit(withoutP1, 's2', { dependsOn: ['p2'] });
    const verdict = verifyPlan(config, decision, plan(changed, target));
    expect(verdict).toMatchObject({ ok: false, violation: { kind: 'transition', vm: 'v1', vjob: 'j1', actionId: 's1', at: 10 } });
    if (!verdict.ok) expect(verdict.violation.message).toContain('it is running, a suspend needs paused');
  });

  it('reports two actions of one VM that overlap in time', () => {
    const changed = edit(actions, 's1', { start: 5 });
    const verdict = verifyPlan(config, decision, plan(changed, target));
    expect(verdict).toMatchObject({ ok: false, violation: { kind: 'transition', vm: 'v1', actionId: 's1' } });
    if (!verdict.ok) expect(verdict.violation.message).toContain("'p1' (pause, 0-10) and 's1' (suspend, 5-1034) overlap");
  });

  it('reports a run of a VM that already runs', () => {
    const changed = [...actions, action(config, 'x', 'run', 'v4', { to: 'n3', start: 2000, end: 2100, step: 1 })];
    const verdict = verifyPlan(config, decision, plan(changed, target));
    expect(verdict).toMatchObject({ ok: false, violation: { kind: 'transition', vm: 'v4', actionId: 'x' } });
  });

  it('accepts back-to-back actions of one VM (one ends when the next starts)', () => {
    const changed = [...actions, action(config, 'm4b', 'migrate', 'v4', { from: 'n3', to: 'n2', start: 1024, end: 2048, step: 1 })];
    const t = { ...target, v4: { state: 'running', host: 'n2' } } as const;
    // n2 then holds v3, v5 and v4: 3 cpu on 2, so widen n2 for this test.
    const wide = { ...config, nodes: config.nodes.map((n) => (n.id === 'n2' ? { ...n, capacity: { cpu: 4, mem: 8192 } } : n)) };
    expect(verifyPlan(wide, decision, plan(changed, t))).toEqual({ ok: true });
  });
});
