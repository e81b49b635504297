import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import type { Constraint } from '../constraints/constraint.ts';
import type { Configuration, Decision } from '../model/configuration.ts';
import { costModelWith } from '../model/cost-model.ts';
import { contextSwitch } from './context-switch.ts';
import { explainInfeasible } from './explain-conflict.ts';
import { cluster, node, vm } from '@entropy/test-support/constraint-harness.ts';

const COST = costModelWith();
const explain = (c: Configuration, constraints: Constraint[], decision: Decision = {}) =>
  explainInfeasible(c, decision, COST, { constraints, timeLimitMs: 60_000 });

describe('explainInfeasible', () => {
  it('names fence and ban on one VM, not the other constraints, and says the VM has no node', () => {
    const c = cluster([node('n1'), node('n2'), node('n3')], [vm('j3-vm1'), vm('other', 'n1')]);
    const constraints: Constraint[] = [
      { type: 'spread', vms: ['other', 'j3-vm1'], continuous: false },
      { type: 'fence', vm: 'j3-vm1', nodes: ['n2'], continuous: false },
      { type: 'ban', vm: 'other', nodes: ['n3'], continuous: false },
      { type: 'ban', vm: 'j3-vm1', nodes: ['n2'], continuous: false },
    ];
    const e = explain(c, constraints, { 'j3-vm1': 'running' })!;
    expect(e.constraintIndexes).toEqual([1, 3]);
    expect(e.starts).toEqual(['j3-vm1']);
    expect(e.vmsWithoutNode).toEqual(['j3-vm1']);
    expect(e.minimal).toBe(true);
    expect(e.sentence).toBe('fence(j3-vm1, {n2}, discrete) and ban(j3-vm1, {n2}, discrete) leave j3-vm1 no node');
  });

  it('names among and the offline node that empties the VM group', () => {
    const c = cluster([node('n1'), node('n2'), node('n3')], [vm('a', 'n1'), vm('b')]);
    const constraints: Constraint[] = [
      { type: 'offline', node: 'n3' },
      { type: 'among', vms: ['b'], parts: [['n3']], continuous: false },
      { type: 'ban', vm: 'a', nodes: ['n2'], continuous: false },
    ];
    const e = explain(c, constraints, { b: 'running' })!;
    expect(e.constraints.map((x) => x.type)).toEqual(['offline', 'among']);
    expect(e.starts).toEqual(['b']);
    expect(e.vmsWithoutNode).toEqual(['b']);
    expect(e.sentence).toMatch(/^offline\(n3\) and among\(b in one of \{n3\}, discrete\) leave b no node$/);
  });

  it('names resourceCapacity and the starts that exceed it, not the starts that fit', () => {
    const c = cluster(
      [node('n1', 8), node('n2', 8)],
      [vm('j1', undefined, { cpu: 3 }), vm('j2', undefined, { cpu: 3 }), vm('j3', undefined, { cpu: 1 })],
    );
    const constraints: Constraint[] = [
      { type: 'resourceCapacity', nodes: ['n1', 'n2'], rc: 'cpu', amount: 6, continuous: false },
      { type: 'spread', vms: ['j1', 'j2'], continuous: false },
    ];
    const e = explain(c, constraints, { j1: 'running', j2: 'running', j3: 'running' })!;
    expect(e.constraintIndexes).toEqual([0]);
    // Any two starts fit under 6 cpu (3 + 3, 3 + 1): the conflict is the three starts with the capacity.
    expect(e.starts).toEqual(['j1', 'j2', 'j3']);
    expect(e.sentence).toMatch(
      /^running j1, j2, j3 and resourceCapacity\(\{n1, n2\}, cpu <= 6, discrete\) do not fit together: /,
    );
  });

  it('blames the constraints, not the room, when an empty node exists', () => {
    // n2 is empty; the fence keeps j to n1, which root keeps full.
    const c = cluster(
      [node('n1', 1), node('n2', 8), node('n3', 8)],
      [vm('busy', 'n1'), vm('j', undefined, { cpu: 1 })],
    );
    const constraints: Constraint[] = [
      { type: 'ban', vm: 'j', nodes: ['n3'], continuous: false },
      { type: 'fence', vm: 'j', nodes: ['n1'], continuous: false },
      { type: 'root', vm: 'busy' },
    ];
    const plan = contextSwitch(c, { j: 'running' }, COST, { constraints });
    expect(plan.feasible).toBe(false);
    const e = explain(c, constraints, { j: 'running' })!;
    expect(e.constraintIndexes).toEqual([1, 2]);
    expect(e.starts).toEqual(['j']);
    expect(e.vmsWithoutNode).toEqual([]);
    expect(e.sentence).toMatch(/^running j, fence\(j, \{n1\}, discrete\) and root\(busy\) do not fit together: /);
  });

  it('names no constraint when the room alone is short', () => {
    const c = cluster([node('n1', 2)], [vm('a', undefined, { cpu: 2 }), vm('b', undefined, { cpu: 1 })]);
    const constraints: Constraint[] = [{ type: 'spread', vms: ['a', 'b'], continuous: false }];
    const e = explain(c, constraints, { a: 'running', b: 'running' })!;
    expect(e.constraints).toEqual([]);
    expect(e.starts).toEqual(['a', 'b']);
    expect(e.sentence).toMatch(/^running a and b do not fit: /);
  });

  it('gives nothing for a feasible instance', () => {
    const c = cluster([node('n1'), node('n2')], [vm('a'), vm('b', 'n1')]);
    expect(explain(c, [{ type: 'ban', vm: 'a', nodes: ['n1'], continuous: false }], { a: 'running' })).toBeUndefined();
  });

  it('stops at the probe budget with a set that still has no plan, marked not minimal', () => {
    const c = cluster([node('n1'), node('n2')], [vm('a')]);
    const noise: Constraint[] = Array.from({ length: 20 }, () => ({ type: 'root', vm: 'a' }) as const);
    const constraints: Constraint[] = [
      ...noise,
      { type: 'fence', vm: 'a', nodes: ['n1'], continuous: false },
      { type: 'ban', vm: 'a', nodes: ['n1'], continuous: false },
    ];
    const e = explainInfeasible(c, { a: 'running' }, COST, { constraints, maxProbes: 3 })!;
    expect(e.minimal).toBe(false);
    expect(e.probes).toBe(3);
    expect(e.sentence).toMatch(/may not be minimal/);
    const reduced = contextSwitch(c, { a: e.starts.includes('a') ? 'running' : 'waiting' }, COST, {
      constraints: e.constraints,
      workBudget: 0,
    });
    expect(reduced.feasible).toBe(false);
  });

  it('finds a small conflict among many constraints with few probes (chunks first)', () => {
    const { c, constraints } = manyBans(1);
    constraints.splice(17, 0, { type: 'fence', vm: 'x', nodes: ['n2'], continuous: false });
    constraints.splice(31, 0, { type: 'ban', vm: 'x', nodes: ['n2'], continuous: false });
    const e = explain(c, constraints, { x: 'running' })!;
    expect(e.constraintIndexes).toEqual([17, 31]);
    expect(e.minimal).toBe(true);
    expect(e.probes).toBeLessThan(constraints.length);
  });
});

/** 8 nodes, 40 small running VMs, each banned from a node it is not on (`shift` nodes further): 40 constraints that hold; x waits. */
function manyBans(shift: number) {
  const nodes = Array.from({ length: 8 }, (_, i) => node(`n${i + 1}`));
  const vms = Array.from({ length: 40 }, (_, i) => vm(`v${i}`, `n${(i % 8) + 1}`, { cpu: 0.1, mem: 64 }));
  const constraints: Constraint[] = vms.map((v, i) => ({
    type: 'ban',
    vm: v.id,
    nodes: [`n${((i + shift) % 8) + 1}`],
    continuous: false,
  }));
  return { c: cluster(nodes, [...vms, vm('x')]), constraints };
}

describe('explainInfeasible on larger instances', () => {
  it('a capacity conflict among many constraints that hold: the constraints linked to the start are probed first', () => {
    const { c, constraints } = manyBans(3);
    constraints.splice(11, 0, { type: 'fence', vm: 'x', nodes: ['n7', 'n8'], continuous: false });
    constraints.splice(29, 0, {
      type: 'resourceCapacity',
      nodes: ['n7', 'n8'],
      rc: 'cpu',
      amount: 0.5,
      continuous: false,
    });
    const e = explain(c, constraints, { x: 'running' })!;
    expect(e.constraintIndexes).toEqual([11, 29]);
    expect(e.starts).toEqual(['x']);
    expect(e.minimal).toBe(true);
    expect(e.probes).toBeLessThan(constraints.length);
    expect(e.sentence).toMatch(
      /^running x, fence\(x, \{n7, n8\}, discrete\) and resourceCapacity\(\{n7, n8\}, cpu <= 0.5, discrete\) do not fit together: /,
    );
  });
});

/** Small random instances with random constraints among a few kinds: the explanation is a minimal conflict. */
describe('explainInfeasible (property)', () => {
  const nodeIds = ['n1', 'n2', 'n3'];
  const vmIds = ['a', 'b', 'c', 'd'];
  const nodeSet = fc.subarray(nodeIds, { minLength: 1 });
  const constraintArb: fc.Arbitrary<Constraint> = fc.oneof(
    fc.record({
      type: fc.constant('ban' as const),
      vm: fc.constantFrom(...vmIds),
      nodes: nodeSet,
      continuous: fc.constant(false),
    }),
    fc.record({
      type: fc.constant('fence' as const),
      vm: fc.constantFrom(...vmIds),
      nodes: nodeSet,
      continuous: fc.constant(false),
    }),
    fc.record({ type: fc.constant('offline' as const), node: fc.constantFrom(...nodeIds) }),
    fc.record({
      type: fc.constant('spread' as const),
      vms: fc.subarray(vmIds, { minLength: 2 }),
      continuous: fc.constant(false),
    }),
    fc.record({
      type: fc.constant('resourceCapacity' as const),
      nodes: nodeSet,
      rc: fc.constant('cpu'),
      amount: fc.integer({ min: 0, max: 6 }),
      continuous: fc.constant(false),
    }),
    fc.record({
      type: fc.constant('runningCapacity' as const),
      nodes: nodeSet,
      amount: fc.integer({ min: 0, max: 3 }),
      continuous: fc.constant(false),
    }),
  );
  const instanceArb = fc.record({
    cpus: fc.array(fc.integer({ min: 1, max: 4 }), { minLength: 3, maxLength: 3 }),
    demands: fc.array(fc.integer({ min: 1, max: 3 }), { minLength: 4, maxLength: 4 }),
    hosts: fc.array(fc.option(fc.constantFrom(...nodeIds), { nil: undefined }), { minLength: 4, maxLength: 4 }),
    starts: fc.subarray(vmIds),
    constraints: fc.array(constraintArb, { maxLength: 6 }),
  });

  it('the set has no plan, and removing any one member gives a plan', () => {
    const probe = (c: Configuration, d: Decision, cs: readonly Constraint[]) =>
      contextSwitch(c, d, COST, { constraints: cs, workBudget: 0, timeLimitMs: 60_000 }).feasible;
    let explained = 0;
    fc.assert(
      fc.property(instanceArb, (x) => {
        const nodes = nodeIds.map((id, i) => node(id, x.cpus[i]!, 8192));
        const vms = vmIds.map((id, i) => vm(id, x.hosts[i], { cpu: x.demands[i]!, mem: 512 }));
        const c = cluster(nodes, vms);
        const decision: Record<string, 'running'> = {};
        for (const v of x.starts) if (x.hosts[vmIds.indexOf(v)] === undefined) decision[v] = 'running';
        const e = explainInfeasible(c, decision, COST, { constraints: x.constraints, timeLimitMs: 60_000 });
        if (!e) {
          expect(probe(c, decision, x.constraints)).toBe(true);
          return;
        }
        explained++;
        expect(e.minimal).toBe(true);
        const decisionOf = (starts: readonly string[]) =>
          Object.fromEntries(starts.map((j) => [j, 'running' as const]));
        expect(probe(c, decisionOf(e.starts), e.constraints)).toBe(false);
        for (const i of e.constraints.keys())
          expect(
            probe(
              c,
              decisionOf(e.starts),
              e.constraints.filter((_, k) => k !== i),
            ),
          ).toBe(true);
        for (const j of e.starts)
          expect(probe(c, decisionOf(e.starts.filter((s) => s !== j)), e.constraints)).toBe(true);
      }),
      { numRuns: 150, seed: 13 },
    );
    expect(explained).toBeGreaterThan(20);
  });
});
