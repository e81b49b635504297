import { describe, expect, it } from 'vitest';
import type { PlannedAction } from '../model/plan.ts';
import { verifyPlan } from './index.ts';
import { edit, plan, referenceCase } from '@entropy/test-support/verifier-fixtures.ts';

describe('malformed plans', () => {
  const { config, decision, actions, target } = referenceCase();
  const verdictOf = (changed: PlannedAction[], steps?: number) => {
    const p = plan(changed, target);
    return verifyPlan(config, decision, steps === undefined ? p : { ...p, steps });
  };

  it.each([
    ['an unknown VM', edit(actions, 'm4', { vm: 'v9' }), 'm4', 'unknown VM'],
    ['an unknown node', edit(actions, 'm4', { to: 'n9' }), 'm4', "unknown node 'n9'"],
    ["a vjob that is not the VM's", edit(actions, 'm4', { vjob: 'j1' }), 'm4', "belongs to vjob 'j3'"],
    ['an end before the start', edit(actions, 'm4', { end: -1 }), 'm4', 'ends at -1'],
    ['an end before the start', edit(actions, 'm4', { start: 50, end: 40 }), 'm4', 'ends (40) before it starts (50)'],
    ['a migrate without destination', edit(actions, 'm4', { to: undefined }), 'm4', 'without a destination'],
    ['a run without destination', edit(actions, 'b5', { to: undefined }), 'b5', 'without a destination'],
    ['a negative step', edit(actions, 'm4', { step: -1 }), 'm4', 'has step -1'],
    ['an unknown dependency', edit(actions, 'u3', { dependsOn: ['zz'] }), 'u3', "unknown action 'zz'"],
    ['a wrong source node', edit(actions, 'm4', { from: 'n2' }), 'm4', "is on node 'n1'"],
    ['a source node on a waiting VM', edit(actions, 'b5', { from: 'n2' }), 'b5', 'has no host'],
    ['a migrate onto its own host', edit(actions, 'm4', { to: 'n1' }), 'm4', 'where it already is'],
  ])('reports %s', (_what, changed, actionId, fragment) => {
    const verdict = verdictOf(changed);
    expect(verdict.ok).toBe(false);
    if (verdict.ok) return;
    expect(verdict.violation).toMatchObject({ kind: 'malformed', actionId });
    expect(verdict.violation.message).toContain(fragment);
  });

  it('reports a duplicate action id, naming the later action', () => {
    const verdict = verdictOf([...actions, { ...actions[0]!, vm: 'v2' }]);
    expect(verdict).toMatchObject({ ok: false, violation: { kind: 'malformed', actionId: 'p1', vm: 'v2' } });
    if (!verdict.ok) expect(verdict.violation.message).toContain('reuses the id of actions[0]');
  });

  it("reports a step beyond the plan's step count", () => {
    const verdict = verdictOf(actions, 1);
    expect(verdict).toMatchObject({ ok: false, violation: { kind: 'malformed' } });
    if (!verdict.ok) expect(verdict.violation.message).toContain('the plan has 1 steps');
  });
});
