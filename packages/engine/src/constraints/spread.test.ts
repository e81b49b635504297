import { describe, expect, it } from 'vitest';
import { act, check, cluster, hosts, node, planOf, solve, vm } from '@entropy/test-support/constraint-harness.ts';

describe('spread', () => {
  it('places a VM away from the other VMs of its set', () => {
    const c = cluster([node('n1'), node('n2')], [vm('a', 'n1'), vm('b')]);
    const plan = solve(c, [{ type: 'spread', vms: ['a', 'b'], continuous: false }], { b: 'running' });
    expect(hosts(plan)).toEqual({ a: 'n1', b: 'n2' });
  });

  it('moves one of two VMs that share a node', () => {
    const c = cluster([node('n1'), node('n2')], [vm('a', 'n1'), vm('b', 'n1', { mem: 512 })]);
    const plan = solve(c, [{ type: 'spread', vms: ['a', 'b'], continuous: false }]);
    expect(plan.actions.map((x) => `${x.type} ${x.vm} ${x.to}`)).toEqual(['migrate b n2']);
  });

  it('continuous: a VM arrives on a node only once its mate has left it', () => {
    const c = cluster([node('n1'), node('n2'), node('n3')], [vm('a', 'n1'), vm('b', 'n2')]);
    const constraints = [
      { type: 'fence', vm: 'a', nodes: ['n2'], continuous: false },
      { type: 'fence', vm: 'b', nodes: ['n3'], continuous: false },
      { type: 'spread', vms: ['a', 'b'], continuous: true },
    ] as const;
    const plan = solve(c, [...constraints]);
    const [a, b] = ['a', 'b'].map((id) => plan.actions.find((x) => x.vm === id)!);
    expect(a!.start).toBeGreaterThanOrEqual(b!.end);
    expect(a!.dependsOn).toContain(b!.id);
    // Discrete, both may move at once.
    const discrete = solve(c, [constraints[0], constraints[1], { type: 'spread', vms: ['a', 'b'], continuous: false }]);
    expect(discrete.actions.every((x) => x.start === 0)).toBe(true);
  });

  it('the verifier names the two VMs and the node they share', () => {
    const c = cluster([node('n1'), node('n2'), node('n3')], [vm('a', 'n1'), vm('b', 'n2')]);
    const plan = planOf([
      act('migrate', 'a', { from: 'n1', to: 'n2' }, 0, 1024),
      act('migrate', 'b', { from: 'n2', to: 'n3' }, 0, 1024),
    ]);
    expect(check(c, plan, [{ type: 'spread', vms: ['a', 'b'], continuous: true }])).toBe(
      'spread(a, b, continuous) is violated: VMs a (from t=0 on) and b (from t=0 to t=1024) are both on node n2',
    );
    expect(check(c, plan, [{ type: 'spread', vms: ['a', 'b'], continuous: false }])).toBe('ok');
    const together = planOf([act('migrate', 'b', { from: 'n2', to: 'n1' }, 0, 1024)]);
    expect(check(c, together, [{ type: 'spread', vms: ['a', 'b'], continuous: false }])).toBe(
      'spread(a, b, discrete) is violated: VMs a and b both run on node n1 at the end',
    );
  });
});
