import { describe, expect, it } from 'vitest';
import {
  act,
  check,
  cluster,
  hosts,
  infeasible,
  node,
  planOf,
  solve,
  vm,
} from '@entropy/test-support/constraint-harness.ts';

describe('lonely', () => {
  it('moves the VMs of the set off a node they share with others, and keeps others off their nodes', () => {
    const c = cluster(
      [node('n1'), node('n2'), node('n3')],
      [vm('a', 'n1', { mem: 512 }), vm('x', 'n1'), vm('y', 'n2'), vm('w')],
    );
    const plan = solve(c, [{ type: 'lonely', vms: ['a'], continuous: false }], { w: 'running' });
    const h = hosts(plan);
    expect(h.a).toBe('n3');
    expect(h.w).not.toBe('n3');
  });

  it('continuous: a node the set already shares has no plan', () => {
    const c = cluster([node('n1'), node('n2')], [vm('a', 'n1'), vm('x', 'n1')]);
    expect(infeasible(c, [{ type: 'lonely', vms: ['a'], continuous: true }])).toMatch(
      /node n1 already hosts VMs of the set and others/,
    );
  });

  it('the verifier names the VM of the set and the outsider', () => {
    const c = cluster([node('n1'), node('n2')], [vm('a', 'n1'), vm('x', 'n2')]);
    const plan = planOf([act('migrate', 'x', { from: 'n2', to: 'n1' }, 0, 1024)]);
    expect(check(c, plan, [{ type: 'lonely', vms: ['a'], continuous: false }])).toBe(
      'lonely(a, discrete) is violated: VM a shares node n1 with VM x, outside the set, at the end',
    );
    expect(check(c, plan, [{ type: 'lonely', vms: ['a'], continuous: true }])).toBe(
      'lonely(a, continuous) is violated: VM a (from t=0 on) shares node n1 with VM x (from t=0 on), outside the set',
    );
  });
});
