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

describe('gather', () => {
  it('starts a VM on the node of the others', () => {
    const c = cluster([node('n1'), node('n2', 8, 8192)], [vm('a', 'n1'), vm('b')]);
    const plan = solve(c, [{ type: 'gather', vms: ['a', 'b'], continuous: false }], { b: 'running' });
    expect(hosts(plan)).toEqual({ a: 'n1', b: 'n1' });
  });

  it('continuous: VMs on two nodes already have no plan', () => {
    const c = cluster([node('n1'), node('n2')], [vm('a', 'n1'), vm('b', 'n2')]);
    expect(infeasible(c, [{ type: 'gather', vms: ['a', 'b'], continuous: true }])).toMatch(
      /already run on different nodes/,
    );
    expect(hosts(solve(c, [{ type: 'gather', vms: ['a', 'b'], continuous: false }]))).toMatchObject({
      a: expect.any(String),
    });
  });

  it('the verifier names the VMs on different nodes', () => {
    const c = cluster([node('n1'), node('n2')], [vm('a', 'n1'), vm('b', 'n1')]);
    const plan = planOf([act('migrate', 'b', { from: 'n1', to: 'n2' }, 0, 1024)]);
    expect(check(c, plan, [{ type: 'gather', vms: ['a', 'b'], continuous: false }])).toBe(
      'gather(a, b, discrete) is violated: VMs a (node n1) and b (node n2) run on different nodes at the end',
    );
  });
});
