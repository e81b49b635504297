import { describe, expect, it } from 'vitest';
import { act, check, cluster, hosts, node, planOf, solve, vm } from '@entropy/test-support/constraint-harness.ts';

describe('ban', () => {
  it('moves a VM off a banned node and never starts one there', () => {
    const c = cluster([node('n1'), node('n2')], [vm('a', 'n1'), vm('b')]);
    const plan = solve(
      c,
      [
        { type: 'ban', vm: 'a', nodes: ['n1'], continuous: false },
        { type: 'ban', vm: 'b', nodes: ['n1'], continuous: false },
      ],
      { b: 'running' },
    );
    expect(hosts(plan)).toEqual({ a: 'n2', b: 'n2' });
  });

  it('the verifier names the VM and the banned node', () => {
    const c = cluster([node('n1'), node('n2')], [vm('a', 'n1')]);
    expect(check(c, planOf([]), [{ type: 'ban', vm: 'a', nodes: ['n1'], continuous: false }])).toBe(
      'ban(a, {n1}, discrete) is violated: VM a runs on node n1 at the end',
    );
    const pivot = planOf([
      act('migrate', 'a', { from: 'n1', to: 'n2' }, 0, 1024, 0),
      act('migrate', 'a', { from: 'n2', to: 'n1' }, 1024, 2048, 1),
    ]);
    expect(check(c, pivot, [{ type: 'ban', vm: 'a', nodes: ['n2'], continuous: true }])).toBe(
      'ban(a, {n2}, continuous) is violated: VM a is placed on node n2 from t=0 to t=2048',
    );
    expect(check(c, pivot, [{ type: 'ban', vm: 'a', nodes: ['n2'], continuous: false }])).toBe('ok');
  });
});

describe('fence', () => {
  it('moves a VM into its fence and starts one only there', () => {
    const c = cluster([node('n1'), node('n2'), node('n3')], [vm('a', 'n1'), vm('b')]);
    const plan = solve(
      c,
      [
        { type: 'fence', vm: 'a', nodes: ['n3'], continuous: false },
        { type: 'fence', vm: 'b', nodes: ['n2'], continuous: false },
      ],
      { b: 'running' },
    );
    expect(hosts(plan)).toEqual({ a: 'n3', b: 'n2' });
  });

  it('the verifier names the VM outside its fence', () => {
    const c = cluster([node('n1'), node('n2')], [vm('a', 'n1')]);
    expect(check(c, planOf([]), [{ type: 'fence', vm: 'a', nodes: ['n2'], continuous: false }])).toBe(
      'fence(a, {n2}, discrete) is violated: VM a runs on node n1, outside its fence, at the end',
    );
  });
});
