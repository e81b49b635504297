import { describe, expect, it } from 'vitest';
import { verifyPlan } from './index.ts';
import { action, configuration, node, plan, vm } from '@entropy/test-support/verifier-fixtures.ts';

describe('the barrier view', () => {
  // n1 and n2 are full with one 2-cpu VM each; n3 is empty.
  const config = configuration(
    [node('n1'), node('n2'), node('n3')],
    [vm('a', 'ja', 'running', 'n1', 2), vm('b', 'jb', 'running', 'n2', 2)],
  );

  it('reports two steps merged into one although the timed view fits', () => {
    // Timed: b leaves n2 at 100 and a arrives at 100 (ends first): fine. Barrier: both in step 0,
    // so at the start of step 0 a already counts on n2 while b is still there.
    const actions = [
      action(config, 'b-out', 'migrate', 'b', { from: 'n2', to: 'n3', start: 0, end: 100, step: 0 }),
      action(config, 'a-in', 'migrate', 'a', { from: 'n1', to: 'n2', start: 100, end: 200, step: 0 }),
    ];
    const verdict = verifyPlan(config, {}, plan(actions));
    expect(verdict).toMatchObject({ ok: false, violation: { kind: 'barrier', node: 'n2', actionId: 'a-in', vm: 'a' } });
    if (!verdict.ok)
      expect(verdict.violation.message).toContain(
        "node 'n2' is over capacity in cpu: usage 4 > capacity 2 at the start of step 0",
      );
    const fixed = [actions[0]!, { ...actions[1]!, step: 1 }];
    expect(verifyPlan(config, {}, plan(fixed))).toEqual({ ok: true });
  });

  it('reports two actions of one VM in the same step', () => {
    const actions = [
      action(config, 'm1', 'migrate', 'a', { from: 'n1', to: 'n3', start: 0, end: 100, step: 0 }),
      action(config, 'm2', 'migrate', 'a', { from: 'n3', to: 'n1', start: 100, end: 200, step: 0 }),
    ];
    const verdict = verifyPlan(config, {}, plan(actions));
    expect(verdict).toMatchObject({ ok: false, violation: { kind: 'barrier', vm: 'a', actionId: 'm2' } });
    if (!verdict.ok) expect(verdict.violation.message).toContain('not in a later step');
  });
});
