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

const parts = [
  ['n1', 'n2'],
  ['n3', 'n4'],
];

describe('among', () => {
  it('starts a VM in the group its set already uses, even when another group has more room', () => {
    const c = cluster(
      [node('n1', 2), node('n2', 2), node('n3', 8), node('n4', 8)],
      [vm('a', 'n1'), vm('x', 'n2'), vm('b')],
    );
    const plan = solve(c, [{ type: 'among', vms: ['a', 'b'], parts, continuous: false }], { b: 'running' });
    expect(['n1', 'n2']).toContain(hosts(plan).b);
  });

  it('brings a VM outside the group back into it', () => {
    const c = cluster(
      [node('n1'), node('n2'), node('n3'), node('n4')],
      [vm('a', 'n1'), vm('b', 'n2'), vm('c', 'n3', { mem: 512 })],
    );
    const plan = solve(c, [{ type: 'among', vms: ['a', 'b', 'c'], parts, continuous: false }]);
    expect(plan.actions.map((x) => `${x.type} ${x.vm}`)).toEqual(['migrate c']);
    expect(['n1', 'n2']).toContain(hosts(plan).c);
  });

  it('continuous: a set already split over two groups has no plan', () => {
    const c = cluster([node('n1'), node('n2'), node('n3'), node('n4')], [vm('a', 'n1'), vm('c', 'n3')]);
    expect(infeasible(c, [{ type: 'among', vms: ['a', 'c'], parts, continuous: true }])).toMatch(
      /among\(a, c .*continuous\) cannot hold: its VMs already run outside one group/,
    );
  });

  it('the verifier names the VMs in different groups', () => {
    const c = cluster([node('n1'), node('n2'), node('n3'), node('n4')], [vm('a', 'n1'), vm('b', 'n2')]);
    const plan = planOf([act('migrate', 'b', { from: 'n2', to: 'n4' }, 0, 1024)]);
    expect(check(c, plan, [{ type: 'among', vms: ['a', 'b'], parts, continuous: false }])).toMatch(
      /among\(a, b in one of .*\) is violated: VMs a \(node n1, group 1\) and b \(node n4, group 2\) run in different groups at the end/,
    );
    expect(check(c, plan, [{ type: 'among', vms: ['a', 'b'], parts, continuous: true }])).toMatch(
      /VM b is on node n4 \(group 2\) from t=0 on while VM a uses group 1/,
    );
  });
});

describe('splitAmong', () => {
  it('keeps each part of VMs in its own group', () => {
    const c = cluster(
      [node('n1'), node('n2'), node('n3'), node('n4')],
      [vm('a', 'n1'), vm('b', 'n2', { mem: 512 }), vm('c', 'n3'), vm('d')],
    );
    const vParts = [
      ['a', 'b'],
      ['c', 'd'],
    ];
    const plan = solve(c, [{ type: 'splitAmong', vParts, pParts: parts, continuous: false }], { d: 'running' });
    expect(['n3', 'n4']).toContain(hosts(plan).d);
    const bad = planOf([act('migrate', 'b', { from: 'n2', to: 'n4' }, 0, 512)]);
    expect(check(c, bad, [{ type: 'splitAmong', vParts, pParts: parts, continuous: false }])).toMatch(
      /VMs a and b \(part 1\) use groups 1 and 2 \(at the end\)/,
    );
  });
});
