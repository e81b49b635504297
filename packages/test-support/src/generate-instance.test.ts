import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  canReach,
  type Configuration,
  contextSwitch,
  type Instance,
  parseInstance,
  type VJobState,
} from '@entropy/engine';
import {
  arbitraryInstance,
  generateInstance,
  generateInstanceJson,
  mulberry32,
  toInstanceJson,
} from './generate-instance.ts';

const small = { nodes: 40, vms: 300 };
const withoutStats = ({ configuration, decision, costModel }: Instance): Instance => ({
  configuration,
  decision,
  costModel,
});

function overloadedNodes(c: Configuration): string[] {
  return c.nodes
    .filter((n) => {
      const on = c.vms.filter((v) => v.state === 'running' && v.host === n.id);
      return ['cpu', 'mem'].some((d) => on.reduce((s, v) => s + v.demand[d]!, 0) > n.capacity[d]!);
    })
    .map((n) => n.id);
}

describe('mulberry32', () => {
  it('repeats its sequence for a seed and stays in [0, 1)', () => {
    const a = mulberry32(42);
    const b = mulberry32(42);
    const xs = Array.from({ length: 100 }, () => a.next());
    expect(xs).toEqual(Array.from({ length: 100 }, () => b.next()));
    expect(xs.every((x) => x >= 0 && x < 1)).toBe(true);
    expect(mulberry32(43).next()).not.toBe(xs[0]);
  });
});

describe('generateInstance', () => {
  it('returns the same instance for the same seed and another for another seed', () => {
    expect(generateInstance({ ...small, seed: 7 })).toEqual(generateInstance({ ...small, seed: 7 }));
    expect(generateInstance({ ...small, seed: 8 }).configuration).not.toEqual(
      generateInstance({ ...small, seed: 7 }).configuration,
    );
  });

  it('writes an instance file that parseInstance reads back unchanged', () => {
    const generated = generateInstance({ ...small, seed: 3 });
    const json = JSON.parse(JSON.stringify(generateInstanceJson({ ...small, seed: 3 })));
    expect(parseInstance(json, 'generated.json')).toEqual({ ...withoutStats(generated), constraints: [] });
  });

  it('honours the sizes, the load, the overloaded nodes and the life cycle', () => {
    const g = generateInstance({ ...small, seed: 5, vjobSize: { min: 2, max: 5 }, load: 0.7, overloadedNodes: 2 });
    const { nodes, vms, vjobs } = g.configuration;
    expect(nodes).toHaveLength(40);
    expect(vms).toHaveLength(300);
    expect(vjobs.slice(0, -1).every((j) => j.vms.length >= 2 && j.vms.length <= 5)).toBe(true);
    expect(g.stats.sourceLoad).toBeLessThanOrEqual(0.7);
    expect(g.stats.sourceLoad).toBeGreaterThan(0.6);
    expect(g.stats.targetLoad).toBeLessThanOrEqual(0.88);
    expect(overloadedNodes(g.configuration)).toEqual(g.stats.overloadedNodes);
    expect(g.stats.overloadedNodes).toHaveLength(2);
    for (const v of vms) expect(v.host === undefined).toBe(v.state === 'waiting' || v.state === 'terminated');
    const stateOf = new Map(vms.map((v) => [v.vjob, v.state as VJobState]));
    for (const [j, wanted] of Object.entries(g.decision)) {
      expect(canReach(stateOf.get(j)!, wanted)).toBe(true);
      expect(wanted).not.toBe(stateOf.get(j));
    }
    const changed = Object.keys(g.decision).length;
    expect(changed).toBeGreaterThanOrEqual(Math.floor(vjobs.length * 0.05));
    expect(changed).toBeLessThanOrEqual(Math.ceil(vjobs.length * 0.1) + 1);
  });

  it('gives decisions the engine can carry out at the default settings', () => {
    for (const seed of [1, 2, 3]) {
      const g = generateInstance({ seed });
      const plan = contextSwitch(g.configuration, g.decision, g.costModel);
      expect(plan.feasible, plan.feasible ? '' : plan.reason).toBe(true);
    }
  });

  it('rejects an option out of range, naming it', () => {
    expect(() => generateInstance({ load: 1.5 })).toThrow(/'load'/);
    expect(() => generateInstance({ vjobSize: { min: 3, max: 2 } })).toThrow(/'vjobSize'/);
  });
});

describe('arbitraryInstance', () => {
  it('draws valid instance files within the bounds', () => {
    fc.assert(
      fc.property(arbitraryInstance({ maxNodes: 4, maxVms: 12 }), (instance) => {
        expect(instance.configuration.nodes.length).toBeLessThanOrEqual(4);
        expect(instance.configuration.vms.length).toBeLessThanOrEqual(12);
        expect(parseInstance(toInstanceJson(instance))).toEqual({ ...instance, constraints: [] });
      }),
      { numRuns: 150, seed: 11 },
    );
  });

  it('sometimes draws overloaded sources and sometimes infeasible decisions', () => {
    const samples = fc.sample(arbitraryInstance(), { numRuns: 150, seed: 12 });
    expect(samples.some((i) => overloadedNodes(i.configuration).length > 0)).toBe(true);
    const plans = samples.map((i) => contextSwitch(i.configuration, i.decision, i.costModel, { timeLimitMs: 10 }));
    expect(plans.some((p) => p.feasible)).toBe(true);
    expect(plans.some((p) => !p.feasible)).toBe(true);
  });
});
