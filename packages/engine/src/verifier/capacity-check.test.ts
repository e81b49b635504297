import { describe, expect, it } from 'vitest';
import type { Decision } from '../model/configuration.ts';
import type { PlannedAction } from '../model/plan.ts';
import { verifyPlan, type Verdict } from './index.ts';
import { action, configuration, node, plan, vm } from '@entropy/test-support/verifier-fixtures.ts';

function expectViolation(verdict: Verdict, expected: object, fragment: string) {
  expect(verdict).toMatchObject({ ok: false, violation: expected });
  if (!verdict.ok) expect(verdict.violation.message).toContain(fragment);
}

describe('capacity in the timed view', () => {
  // n1 and n2 are full (2 cpu each), n3 is empty.
  const config = configuration(
    [node('n1'), node('n2'), node('n3')],
    [
      vm('a', 'ja', 'running', 'n1'),
      vm('b', 'jb', 'running', 'n1'),
      vm('c', 'jc', 'running', 'n2'),
      vm('d', 'jd', 'running', 'n2'),
    ],
  );
  const migrate = (
    id: string,
    vmId: string,
    from: string,
    to: string,
    start: number,
    end: number,
    step = 0,
  ): PlannedAction => action(config, id, 'migrate', vmId, { from, to, start, end, step });
  const check = (actions: PlannedAction[], c = config, decision: Decision = {}) =>
    verifyPlan(c, decision, plan(actions));

  it('reports a VM brought onto a full node, with node, dimension, instant, usage and capacity', () => {
    expectViolation(
      check([migrate('m', 'c', 'n2', 'n1', 0, 100)]),
      { kind: 'capacity', node: 'n1', vm: 'c', actionId: 'm', at: 0 },
      "node 'n1' is over capacity in cpu: usage 3 > capacity 2 at t=0",
    );
  });

  it('frees the source at the end of a migration, not before', () => {
    expectViolation(
      check([migrate('out', 'a', 'n1', 'n3', 0, 100), migrate('in', 'c', 'n2', 'n1', 99, 200)]),
      { kind: 'capacity', node: 'n1', at: 99, actionId: 'in' },
      'usage 3 > capacity 2',
    );
  });

  it('processes ends before starts at one instant: a VM may arrive when another leaves', () => {
    expect(check([migrate('out', 'a', 'n1', 'n3', 0, 100), migrate('in', 'c', 'n2', 'n1', 100, 200, 1)])).toEqual({
      ok: true,
    });
  });

  it('accepts a swap through a third node where arrivals start when departures end', () => {
    const actions = [
      migrate('a-out', 'a', 'n1', 'n3', 0, 100),
      migrate('c-in', 'c', 'n2', 'n1', 100, 200, 1),
      migrate('a-in', 'a', 'n3', 'n2', 200, 300, 2),
    ];
    expect(check(actions)).toEqual({ ok: true });
  });

  it('checks every named dimension', () => {
    const gpuConfig = configuration(
      [{ id: 'g1', capacity: { cpu: 8, mem: 8192, gpu: 1 }, state: 'online' }, node('n2')],
      [
        { ...vm('x', 'jx', 'running', 'g1'), demand: { cpu: 1, mem: 1, gpu: 1 } },
        { ...vm('y', 'jy', 'running', 'n2'), demand: { cpu: 1, mem: 1, gpu: 1 } },
      ],
    );
    const m = action(gpuConfig, 'm', 'migrate', 'y', { from: 'n2', to: 'g1', start: 0, end: 10 });
    expectViolation(
      check([m], gpuConfig),
      { kind: 'capacity', node: 'g1', vm: 'y' },
      'over capacity in gpu: usage 2 > capacity 1',
    );
  });

  it('reports an action that brings a VM to an offline node', () => {
    const withOffline = configuration([...config.nodes, node('off', 8, 8192, 'offline')], config.vms);
    expectViolation(
      check([action(withOffline, 'm', 'migrate', 'a', { from: 'n1', to: 'off', start: 0, end: 10 })], withOffline),
      { kind: 'capacity', node: 'off', vm: 'a', actionId: 'm' },
      "node 'off', which is offline",
    );
  });

  describe('overload tolerance', () => {
    // n1 holds three 1-cpu VMs on 2 cpu: overloaded in the source, which the plan repairs.
    const overloaded = configuration(
      [node('n1'), node('n2'), node('n3')],
      [
        vm('a', 'ja', 'running', 'n1'),
        vm('b', 'jb', 'running', 'n1'),
        vm('e', 'je', 'running', 'n1'),
        vm('c', 'jc', 'running', 'n3'),
      ],
    );
    const m = (id: string, vmId: string, from: string, to: string, start: number, end: number, step = 0) =>
      action(overloaded, id, 'migrate', vmId, { from, to, start, end, step });

    it('tolerates a node overloaded in the source while nothing arrives on it', () => {
      expect(check([m('out', 'e', 'n1', 'n2', 0, 100)], overloaded)).toEqual({ ok: true });
    });

    it('reports a VM that starts arriving on a node still overloaded from the source', () => {
      const actions = [m('out', 'e', 'n1', 'n2', 0, 100), m('in', 'c', 'n3', 'n1', 50, 150, 1)];
      expectViolation(
        check(actions, overloaded),
        { kind: 'capacity', node: 'n1', actionId: 'in', at: 50 },
        'usage 4 > capacity 2',
      );
    });

    it('accepts an arrival once departures brought the node within capacity', () => {
      const actions = [
        m('out-e', 'e', 'n1', 'n2', 0, 100),
        m('out-b', 'b', 'n1', 'n2', 0, 100),
        m('in', 'c', 'n3', 'n1', 100, 150, 1),
      ];
      expect(check(actions, overloaded)).toEqual({ ok: true });
    });
  });
});
