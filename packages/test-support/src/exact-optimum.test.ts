import { beforeAll, describe, expect, it } from 'vitest';
import { type Configuration, contextSwitch, type Decision, DEFAULT_COST_MODEL } from '@entropy/engine';
import {
  findViableTarget,
  loadHighs,
  lowerBound,
  noWaitCost,
  targetEnumerationOptimum,
  type HighsSolver,
} from './exact-optimum.ts';
import { viableTargetIsReachable } from './reachability.ts';

const node = (id: string, cpu: number, mem = 8192) => ({ id, capacity: { cpu, mem }, state: 'online' as const });
const vm = (
  id: string,
  cpu: number,
  mem: number,
  state: 'running' | 'sleeping' | 'waiting',
  host?: string,
  vjob = id,
) => ({
  id,
  vjob,
  demand: { cpu, mem },
  state,
  ...(host ? { host } : {}),
});
function configuration(nodes: Configuration['nodes'], vms: Configuration['vms']): Configuration {
  const vjobs = [...new Set(vms.map((v) => v.vjob))].map((id) => ({
    id,
    vms: vms.filter((v) => v.vjob === id).map((v) => v.id),
    priority: 0,
    submittedAt: 0,
  }));
  return { nodes, vms, vjobs };
}
const none: Decision = {};

/** n1 is overloaded; every viable target swaps a and c between n1 and n2, and neither can go first. */
const deadlock = configuration(
  [node('n1', 3), node('n2', 2)],
  [vm('a', 2, 512, 'running', 'n1'), vm('b', 2, 1024, 'running', 'n1'), vm('c', 1, 256, 'running', 'n2')],
);

let highs: HighsSolver;
beforeAll(async () => {
  highs = await loadHighs();
});

describe('findViableTarget', () => {
  it('finds hosts within capacity for every VM that must run', () => {
    const c = configuration(
      [node('n1', 2), node('n2', 2)],
      [vm('a', 1, 512, 'running', 'n1'), vm('b', 1, 512, 'waiting'), vm('c', 2, 512, 'waiting')],
    );
    const r = findViableTarget(c, { b: 'running', c: 'running' });
    expect(r.kind).toBe('found');
    if (r.kind === 'found') expect(new Set(Object.keys(r.hosts))).toEqual(new Set(['a', 'b', 'c']));
  });

  it('proves that three VMs of 2 cores do not pack on two nodes of 3 cores, though 6 cores are offered', () => {
    const c = configuration(
      [node('n1', 3), node('n2', 3)],
      [vm('a', 2, 512, 'waiting'), vm('b', 2, 512, 'waiting'), vm('c', 2, 512, 'waiting')],
    );
    expect(findViableTarget(c, { a: 'running', b: 'running', c: 'running' }).kind).toBe('none');
  });

  it('ignores offline nodes and VMs that leave', () => {
    const c = configuration(
      [node('n1', 2), { ...node('n2', 8), state: 'offline' }],
      [vm('a', 2, 512, 'running', 'n1'), vm('b', 2, 512, 'waiting')],
    );
    expect(findViableTarget(c, { b: 'running' }).kind).toBe('none');
    expect(findViableTarget(c, { a: 'sleeping', b: 'running' }).kind).toBe('found');
  });
});

describe('lowerBound', () => {
  it('moves the cheaper VM off an overloaded node: one migration of 512 MiB', () => {
    const c = configuration(
      [node('n1', 1), node('n2', 1)],
      [vm('a', 1, 1024, 'running', 'n1'), vm('b', 1, 512, 'running', 'n1')],
    );
    expect(lowerBound(highs, c, none, DEFAULT_COST_MODEL)).toEqual({ sumCompletion: 512, makespan: 512 });
    expect(targetEnumerationOptimum(c, none, DEFAULT_COST_MODEL)).toMatchObject({
      sumCompletion: 512,
      makespan: 512,
      targets: 2,
      looping: 0,
    });
  });

  it('charges a resumed vjob its longest resume plus the unpause, once per VM', () => {
    // Only one of the two fits on n1, where both images are. Remote resume costs 2 ms/MiB, local 1.
    const c = configuration(
      [node('n1', 1), node('n2', 1)],
      [vm('v1', 1, 1024, 'sleeping', 'n1', 'j'), vm('v2', 1, 2048, 'sleeping', 'n1', 'j')],
    );
    // v2 local (2048) and v1 remote (2048): the unpause starts at 2048 and lasts 10, twice.
    const expected = { sumCompletion: 2048 + 2048 + 2 * 2058, makespan: 2058 };
    expect(lowerBound(highs, c, { j: 'running' }, DEFAULT_COST_MODEL)).toEqual(expected);
    expect(noWaitCost(c, { j: 'running' }, DEFAULT_COST_MODEL, (id) => (id === 'v2' ? 'n1' : 'n2'))).toEqual(expected);
  });

  it('adds the actions that do not depend on hosts: pause then save, stop, run', () => {
    const c = configuration(
      [node('n1', 4)],
      [
        vm('s1', 1, 1024, 'running', 'n1', 's'),
        vm('s2', 1, 256, 'running', 'n1', 's'),
        vm('t', 1, 512, 'running', 'n1'),
        vm('w', 1, 512, 'waiting'),
      ],
    );
    const bound = lowerBound(highs, c, { s: 'sleeping', t: 'terminated', w: 'running' }, DEFAULT_COST_MODEL);
    // pauses 10 + 10, saves 10 + 1024 and 10 + 256, stop 1000, run 5000.
    expect(bound).toEqual({ sumCompletion: 10 + 10 + 1034 + 266 + 1000 + 5000, makespan: 5000 });
  });

  it('starts an arrival on a full node no earlier than the first departure from it can end', () => {
    const c = configuration([node('n1', 1)], [vm('t', 1, 512, 'running', 'n1'), vm('w', 1, 512, 'waiting')]);
    const d = { t: 'terminated', w: 'running' } as const;
    // stop ends at 1000; the run (5000) cannot start before, since n1 has no room until then.
    expect(lowerBound(highs, c, d, DEFAULT_COST_MODEL)).toEqual({ sumCompletion: 1000 + 6000, makespan: 6000 });
    expect(lowerBound(highs, c, d, DEFAULT_COST_MODEL, { firstDeparture: false })).toEqual({
      sumCompletion: 1000 + 5000,
      makespan: 5000,
    });
    const plan = contextSwitch(c, d, DEFAULT_COST_MODEL);
    expect(plan.feasible && plan.sumCompletion).toBe(7000);
  });

  it('is undefined when no viable target exists', () => {
    const c = configuration([node('n1', 1)], [vm('a', 2, 512, 'waiting')]);
    expect(lowerBound(highs, c, { a: 'running' }, DEFAULT_COST_MODEL)).toBeUndefined();
  });

  it('never exceeds the engine plan on a context switch that needs no waiting', () => {
    const c = configuration(
      [node('n1', 2), node('n2', 2)],
      [vm('a', 1, 1024, 'running', 'n1'), vm('b', 2, 2048, 'sleeping', 'n1'), vm('w', 1, 512, 'waiting')],
    );
    const d = { b: 'running', w: 'running' } as const;
    const plan = contextSwitch(c, d, DEFAULT_COST_MODEL);
    expect(plan.feasible).toBe(true);
    if (!plan.feasible) return;
    expect(lowerBound(highs, c, d, DEFAULT_COST_MODEL)!.sumCompletion).toBeLessThanOrEqual(plan.sumCompletion);
  });
});

describe('viableTargetIsReachable', () => {
  it('reports a swap that no third node can break as unreachable, though a viable target exists', () => {
    expect(findViableTarget(deadlock, none).kind).toBe('found');
    expect(viableTargetIsReachable(deadlock, none).kind).toBe('unreachable');
  });

  it('reaches the target through a third node with room', () => {
    const c = configuration([...deadlock.nodes, node('n3', 1)], deadlock.vms);
    const r = viableTargetIsReachable(c, none);
    expect(r.kind).toBe('reachable');
    if (r.kind === 'reachable') expect(r.moves.length).toBeGreaterThan(0);
  });

  it('needs no move when the source is viable', () => {
    const c = configuration([node('n1', 2)], [vm('a', 1, 512, 'running', 'n1')]);
    expect(viableTargetIsReachable(c, none)).toEqual({ kind: 'reachable', moves: [] });
  });
});
