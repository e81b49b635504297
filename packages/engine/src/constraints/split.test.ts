import { describe, expect, it } from 'vitest';
import { act, check, cluster, hosts, node, planOf, solve, vm } from '@entropy/test-support/constraint-harness.ts';

describe('split', () => {
  it('never puts VMs of two parts on one node', () => {
    const c = cluster([node('n1'), node('n2')], [vm('a', 'n1'), vm('b', 'n1', { mem: 512 }), vm('c')]);
    const parts = [['a'], ['b', 'c']];
    const plan = solve(c, [{ type: 'split', parts, continuous: false }], { c: 'running' });
    expect(hosts(plan)).toEqual({ a: 'n1', b: 'n2', c: 'n2' });
  });

  it('the verifier names the VMs of two parts that share a node', () => {
    const c = cluster([node('n1'), node('n2')], [vm('a', 'n1'), vm('b', 'n2')]);
    const plan = planOf([act('migrate', 'b', { from: 'n2', to: 'n1' }, 0, 1024)]);
    expect(check(c, plan, [{ type: 'split', parts: [['a'], ['b']], continuous: false }])).toBe(
      'split({a}, {b}, discrete) is violated: VMs a (part 1) and b (part 2) both run on node n1 at the end',
    );
    expect(check(c, plan, [{ type: 'split', parts: [['a'], ['b']], continuous: true }])).toMatch(
      /VMs a \(part 1, from t=0 on\) and b \(part 2, from t=0 on\) are both on node n1/,
    );
    expect(check(c, planOf([]), [{ type: 'split', parts: [['a'], ['b']], continuous: true }])).toBe('ok');
  });
});
