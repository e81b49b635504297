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

describe('root', () => {
  it('keeps a VM on an overloaded node and moves the others', () => {
    const c = cluster(
      [node('n1', 2), node('n2', 4)],
      [vm('a', 'n1', { mem: 256 }), vm('b', 'n1', { mem: 2048 }), vm('x', 'n1', { mem: 512 })],
    );
    const plan = solve(c, [{ type: 'root', vm: 'a' }]);
    expect(hosts(plan).a).toBe('n1');
    expect(plan.actions.every((x) => x.vm !== 'a')).toBe(true);
  });

  it('has no plan when its node must go offline', () => {
    const c = cluster([node('n1'), node('n2')], [vm('a', 'n1')]);
    expect(
      infeasible(c, [
        { type: 'root', vm: 'a' },
        { type: 'offline', node: 'n1' },
      ]),
    ).toMatch(/VM 'a' may not leave node 'n1'/);
  });

  it('the verifier names the migration', () => {
    const c = cluster([node('n1'), node('n2')], [vm('a', 'n1')]);
    const plan = planOf([act('migrate', 'a', { from: 'n1', to: 'n2' }, 0, 1024)]);
    expect(check(c, plan, [{ type: 'root', vm: 'a' }])).toMatch(
      /^root\(a\) is violated: VM a is migrated by action t\d+ \(n1 -> n2\)$/,
    );
  });
});

describe('quarantine', () => {
  it('lets nothing arrive on the node and nothing leave it', () => {
    const c = cluster(
      [node('n1', 2), node('n2', 8, 8192), node('n3', 2)],
      [vm('a', 'n2'), vm('b', 'n3', { cpu: 2 }), vm('w')],
    );
    const plan = solve(c, [{ type: 'quarantine', node: 'n2' }], { w: 'running' });
    expect(hosts(plan)).toEqual({ a: 'n2', b: 'n3', w: 'n1' });
  });

  it('the verifier names the VM placed on the node', () => {
    const c = cluster([node('n1'), node('n2')], [vm('a', 'n1'), vm('b', 'n2')]);
    const plan = planOf([act('migrate', 'b', { from: 'n2', to: 'n1' }, 0, 1024)]);
    expect(check(c, plan, [{ type: 'quarantine', node: 'n1' }])).toBe(
      'quarantine(n1) is violated: VM b is placed on it from t=0 on',
    );
  });
});
