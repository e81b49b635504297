import { describe, expect, it } from 'vitest';
import { act, check, cluster, hosts, node, planOf, solve, vm } from '@entropy/test-support/constraint-harness.ts';

describe('resourceCapacity', () => {
  it('sheds VMs off its nodes until their use fits the amount', () => {
    const c = cluster(
      [node('n1', 8), node('n2', 8), node('n3', 8)],
      [vm('a', 'n1', { cpu: 3 }), vm('b', 'n2', { cpu: 3, mem: 512 })],
    );
    const plan = solve(c, [{ type: 'resourceCapacity', nodes: ['n1', 'n2'], rc: 'cpu', amount: 4, continuous: false }]);
    expect(hosts(plan)).toEqual({ a: 'n1', b: 'n3' });
  });

  it('the verifier gives the use over the amount', () => {
    const c = cluster([node('n1', 8), node('n2', 8)], [vm('a', 'n1', { cpu: 3 }), vm('b', 'n2', { cpu: 3 })]);
    expect(
      check(c, planOf([]), [
        { type: 'resourceCapacity', nodes: ['n1', 'n2'], rc: 'cpu', amount: 4, continuous: false },
      ]),
    ).toBe('resourceCapacity({n1, n2}, cpu <= 4, discrete) is violated: the VMs on its nodes use 6 cpu at the end');
  });
});

describe('runningCapacity', () => {
  it('keeps the number of VMs on its nodes within the amount', () => {
    const c = cluster([node('n1', 8), node('n2', 8)], [vm('a', 'n1'), vm('b', 'n1', { mem: 512 }), vm('w')]);
    const plan = solve(c, [{ type: 'runningCapacity', nodes: ['n1'], amount: 1, continuous: false }], { w: 'running' });
    expect(hosts(plan)).toEqual({ a: 'n1', b: 'n2', w: 'n2' });
  });

  it('continuous: an arrival from outside waits for a departure', () => {
    const c = cluster([node('n1', 8), node('n2', 8), node('n3', 8)], [vm('a', 'n1'), vm('b', 'n3', { mem: 512 })]);
    const constraints = [
      { type: 'fence', vm: 'a', nodes: ['n3'], continuous: false },
      { type: 'fence', vm: 'b', nodes: ['n1', 'n2'], continuous: false },
      { type: 'runningCapacity', nodes: ['n1', 'n2'], amount: 1, continuous: true },
    ] as const;
    const plan = solve(c, [...constraints]);
    const [a, b] = ['a', 'b'].map((id) => plan.actions.find((x) => x.vm === id)!);
    expect(b!.start).toBeGreaterThanOrEqual(a!.end);
    const both = planOf([
      act('migrate', 'a', { from: 'n1', to: 'n3' }, 0, 1024),
      act('migrate', 'b', { from: 'n3', to: 'n2' }, 0, 512),
    ]);
    expect(check(c, both, [constraints[2]])).toBe(
      'runningCapacity({n1, n2}, <= 1, continuous) is violated: 2 VMs run on its nodes at t=0',
    );
  });
});

describe('maxOnline', () => {
  it('shuts down the emptiest nodes until few enough are online', () => {
    const c = cluster([node('n1'), node('n2'), node('n3')], [vm('a', 'n1'), vm('b', 'n2', { mem: 512 })]);
    const plan = solve(c, [{ type: 'maxOnline', nodes: ['n1', 'n2', 'n3'], amount: 1, continuous: false }]);
    expect(plan.nodeActions!.map((x) => `${x.type} ${x.node}`).sort()).toEqual(['shutdownNode n2', 'shutdownNode n3']);
    expect(hosts(plan)).toEqual({ a: 'n1', b: 'n1' });
  });

  it('the verifier counts the online nodes', () => {
    const c = cluster([node('n1'), node('n2')], []);
    expect(check(c, planOf([]), [{ type: 'maxOnline', nodes: ['n1', 'n2'], amount: 1, continuous: false }])).toBe(
      'maxOnline({n1, n2}, <= 1, discrete) is violated: 2 of its nodes are online at the end',
    );
  });
});

describe('overbook', () => {
  it('lets a node hold more than its capacity by the ratio', () => {
    const c = cluster([node('n1', 2), node('n2', 2)], [vm('a', 'n1'), vm('b', 'n1'), vm('w')]);
    const plan = solve(
      c,
      [
        { type: 'overbook', node: 'n1', rc: 'cpu', ratio: 1.5, continuous: true },
        { type: 'ban', vm: 'w', nodes: ['n2'], continuous: false },
      ],
      { w: 'running' },
    );
    expect(hosts(plan).w).toBe('n1');
  });

  it('the verifier gives the use over the overbooked capacity', () => {
    const c = cluster([node('n1', 2), node('n2', 2)], [vm('a', 'n1'), vm('b', 'n1'), vm('c', 'n2', { cpu: 2 })]);
    const plan = planOf([act('migrate', 'c', { from: 'n2', to: 'n1' }, 0, 1024)]);
    expect(check(c, plan, [{ type: 'overbook', node: 'n1', rc: 'cpu', ratio: 1.5, continuous: true }])).toMatch(
      /node 'n1' is over capacity in cpu: usage 4 > capacity 3/,
    );
  });
});

describe('preserve', () => {
  it('raises a VM demand, which moves it off a node that cannot grant it', () => {
    const c = cluster([node('n1', 4), node('n2', 4)], [vm('a', 'n1', { cpu: 2 }), vm('b', 'n1', { cpu: 2, mem: 512 })]);
    const plan = solve(c, [{ type: 'preserve', vm: 'a', rc: 'cpu', amount: 3 }]);
    expect(plan.actions.map((x) => `${x.type} ${x.vm}`)).toEqual(['migrate b']);
  });

  it('the verifier checks the node can grant the preserved amount', () => {
    const c = cluster([node('n1', 4), node('n2', 4)], [vm('a', 'n1', { cpu: 2 }), vm('b', 'n1', { cpu: 2 })]);
    expect(check(c, planOf([]), [{ type: 'preserve', vm: 'a', rc: 'cpu', amount: 3 }])).toMatch(
      /final configuration is not viable: node 'n1' is over capacity in cpu: usage 5 > capacity 4/,
    );
  });
});
