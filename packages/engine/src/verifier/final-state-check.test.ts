import { describe, expect, it } from 'vitest';
import type { Decision } from '../model/configuration.ts';
import { verifyPlan } from './index.ts';
import { action, configuration, edit, node, plan, referenceCase, vm } from '@entropy/test-support/verifier-fixtures.ts';

describe('the final state', () => {
  const { config, decision, actions, target } = referenceCase();

  it('reports a vjob the plan leaves in another state than the decision asks', () => {
    const changed = edit(edit(actions, 'r3', null), 'u3', null);
    const verdict = verifyPlan(config, decision, plan(changed, target));
    expect(verdict).toMatchObject({ ok: false, violation: { kind: 'final-state', vm: 'v3', vjob: 'j2' } });
    if (!verdict.ok)
      expect(verdict.violation.message).toContain("VM 'v3' ends sleeping but the decision wants vjob 'j2' running");
  });

  it('reports a VM left paused', () => {
    const changed = [...actions, action(config, 'p4', 'pause', 'v4', { from: 'n3', start: 2000, end: 2010, step: 1 })];
    const verdict = verifyPlan(config, decision, plan(changed, target));
    expect(verdict).toMatchObject({ ok: false, violation: { kind: 'final-state', vm: 'v4', node: 'n3' } });
    if (!verdict.ok) expect(verdict.violation.message).toContain("VM 'v4' is left paused on node 'n3'");
  });

  it('reports a final configuration that is not viable', () => {
    // Nothing arrives on the overloaded node, so the timed view tolerates it, but the plan must repair it.
    const overloaded = configuration(
      [node('n1')],
      [vm('a', 'ja', 'running', 'n1'), vm('b', 'jb', 'running', 'n1'), vm('c', 'jc', 'running', 'n1')],
    );
    const verdict = verifyPlan(overloaded, {}, plan([]));
    expect(verdict).toMatchObject({ ok: false, violation: { kind: 'final-state', node: 'n1' } });
    if (!verdict.ok)
      expect(verdict.violation.message).toContain(
        "not viable: node 'n1' is over capacity in cpu: usage 3 > capacity 2",
      );
  });

  it('reports a plan whose target disagrees with its actions', () => {
    const verdict = verifyPlan(config, decision, plan(actions, { ...target, v4: { state: 'running', host: 'n2' } }));
    expect(verdict).toMatchObject({ ok: false, violation: { kind: 'final-state', vm: 'v4', node: 'n3' } });
    if (!verdict.ok)
      expect(verdict.violation.message).toContain(
        "target says VM 'v4' ends running on 'n2' but its actions leave it running on 'n3'",
      );
  });

  it('reports a target that omits a VM still alive', () => {
    const { v5: _, ...withoutV5 } = target;
    const verdict = verifyPlan(config, decision, plan(actions, withoutV5));
    expect(verdict).toMatchObject({ ok: false, violation: { kind: 'final-state', vm: 'v5' } });
  });

  it('accepts a queued vjob cancelled without any action, and a target that omits it', () => {
    const queued = configuration([node('n1')], [vm('q', 'jq', 'waiting')]);
    expect(verifyPlan(queued, { jq: 'terminated' }, plan([], {}))).toEqual({ ok: true });
  });

  it('still requires a stop for a sleeping vjob cancelled', () => {
    const asleep = configuration([node('n1')], [vm('s', 'js', 'sleeping', 'n1')]);
    const verdict = verifyPlan(asleep, { js: 'terminated' }, plan([], {}));
    expect(verdict).toMatchObject({ ok: false, violation: { kind: 'final-state', vm: 's' } });
  });

  it('reports a VM found paused and left paused', () => {
    const cut = configuration([node('n1')], [vm('p', 'jp', 'paused', 'n1')]);
    for (const decision of [{ jp: 'running' }, {}] as Decision[]) {
      const verdict = verifyPlan(cut, decision, plan([], { p: { state: 'running', host: 'n1' } }));
      expect(verdict).toMatchObject({ ok: false, violation: { kind: 'final-state', vm: 'p', node: 'n1' } });
      if (!verdict.ok) expect(verdict.violation.message).toContain("VM 'p' is left paused on node 'n1'");
    }
  });

  it('wants a vjob the decision does not name whole: back to running when its VMs are in mixed states', () => {
    const mixed = configuration([node('n1')], [vm('s', 'jm', 'sleeping', 'n1'), vm('w', 'jm', 'waiting')]);
    const verdict = verifyPlan(mixed, {}, plan([], { s: { state: 'sleeping', host: 'n1' }, w: { state: 'waiting' } }));
    expect(verdict).toMatchObject({ ok: false, violation: { kind: 'final-state', vm: 's', vjob: 'jm' } });
    if (!verdict.ok)
      expect(verdict.violation.message).toContain(
        "VM 's' ends sleeping but vjob 'jm', which the decision does not name, must end running",
      );
  });

  it('leaves a VM terminated in the source out of the state its vjob must end in', () => {
    const ended = configuration([node('n1')], [vm('r', 'je', 'running', 'n1'), vm('t', 'je', 'terminated')]);
    expect(verifyPlan(ended, {}, plan([], { r: { state: 'running', host: 'n1' } }))).toEqual({ ok: true });
  });
});
