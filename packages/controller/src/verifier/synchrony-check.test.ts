import { describe, expect, it } from 'vitest';
import { verifyPlan } from './index.ts';
import { action, configuration, edit, node, plan, referenceCase, vm } from './test-fixtures.ts';

describe('vjob synchrony', () => {
  const { config, decision, actions, target } = referenceCase();

  it('reports pauses of one vjob that do not happen together', () => {
    const verdict = verifyPlan(config, decision, plan(edit(actions, 'p2', { start: 1 }), target));
    expect(verdict).toMatchObject({ ok: false, violation: { kind: 'synchrony', vjob: 'j1', vm: 'v2', actionId: 'p2' } });
    if (!verdict.ok) expect(verdict.violation.message).toContain("pause 'p2' of VM 'v2' (start 1, end 10, step 0) is not together with pause 'p1'");
  });

  it('reports a vjob suspended while one of its running VMs is not paused', () => {
    // Only v1 is paused and saved: v2 of the same vjob keeps running meanwhile.
    const changed = edit(edit(edit(actions, 'p2', null), 's2', null), 's1', { dependsOn: ['p1'] });
    const verdict = verifyPlan(config, decision, plan(changed, target));
    expect(verdict).toMatchObject({ ok: false, violation: { kind: 'synchrony', vjob: 'j1', vm: 'v2' } });
    if (!verdict.ok) expect(verdict.violation.message).toContain("vjob 'j1' is paused but its running VM 'v2' is not paused with the others");
  });

  describe('resumes', () => {
    const two = configuration([node('n1', 4, 8192)], [vm('w1', 'jw', 'sleeping', 'n1'), vm('w2', 'jw', 'sleeping', 'n1')]);
    const a = (id: string, type: 'resume' | 'unpause', vmId: string, start: number, end: number, step: number) =>
      action(two, id, type, vmId, { from: 'n1', ...(type === 'resume' ? { to: 'n1' } : {}), start, end, step });
    const t = { w1: { state: 'running', host: 'n1' }, w2: { state: 'running', host: 'n1' } } as const;

    it('accepts restored VMs unpaused together after the last resume', () => {
      const ok = [a('r1', 'resume', 'w1', 0, 100, 0), a('r2', 'resume', 'w2', 0, 200, 0), a('u1', 'unpause', 'w1', 200, 210, 1), a('u2', 'unpause', 'w2', 200, 210, 1)];
      expect(verifyPlan(two, { jw: 'running' }, plan(ok, t))).toEqual({ ok: true });
    });

    it('reports an unpause that starts before another VM of the vjob is restored', () => {
      const early = [a('r1', 'resume', 'w1', 0, 100, 0), a('r2', 'resume', 'w2', 0, 200, 0), a('u1', 'unpause', 'w1', 100, 110, 1), a('u2', 'unpause', 'w2', 200, 210, 2)];
      const verdict = verifyPlan(two, { jw: 'running' }, plan(early, t));
      expect(verdict).toMatchObject({ ok: false, violation: { kind: 'synchrony', vjob: 'jw', actionId: 'u2' } });
    });

    it('reports a resumed VM left out of the unpause group', () => {
      const missing = [a('r1', 'resume', 'w1', 0, 100, 0), a('r2', 'resume', 'w2', 0, 100, 0), a('u1', 'unpause', 'w1', 100, 110, 1)];
      const verdict = verifyPlan(two, { jw: 'running' }, plan(missing, t));
      expect(verdict).toMatchObject({ ok: false, violation: { kind: 'synchrony', vjob: 'jw', vm: 'w2', actionId: 'r2' } });
      if (!verdict.ok) expect(verdict.violation.message).toContain("VM 'w2' is resumed by 'r2' but not unpaused with the vjob");
    });
  });
});
