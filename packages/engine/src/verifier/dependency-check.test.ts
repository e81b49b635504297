import { describe, expect, it } from 'vitest';
import { verifyPlan } from './index.ts';
import { edit, plan, referenceCase } from '@entropy/test-support/verifier-fixtures.ts';

describe('dependencies', () => {
  const { config, decision, actions, target } = referenceCase();

  it('reports a dependency in the same step', () => {
    const verdict = verifyPlan(config, decision, plan(edit(actions, 'm4', { dependsOn: ['b5'] }), target));
    expect(verdict).toMatchObject({
      ok: false,
      violation: { kind: 'dependency', actionId: 'm4', vm: 'v4', vjob: 'j3' },
    });
    if (!verdict.ok) expect(verdict.violation.message).toContain("depends on 'b5', which is not in an earlier step");
  });

  it('reports a dependency that ends after the action starts', () => {
    const changed = edit(actions, 'u3', { dependsOn: ['r3', 'b5'] });
    const verdict = verifyPlan(config, decision, plan(changed, target));
    expect(verdict).toMatchObject({ ok: false, violation: { kind: 'dependency', actionId: 'u3', at: 1024 } });
    if (!verdict.ok)
      expect(verdict.violation.message).toContain("starts at 1024 but depends on 'b5', which ends at 5000");
  });
});
