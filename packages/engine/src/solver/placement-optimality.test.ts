/**
 * The placement cost (engine/placement-cost.ts), the engine's first objective, against its exact
 * minimum (a HiGHS MILP, packages/test-support/src/placement-optimum.ts) on small tight instances: 3 to 8 nodes,
 * 6 to 30 VMs, nodes 95% full, some overloaded, half the vjobs changing state.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { loadHighs, type HighsSolver } from '@entropy/test-support/highs.ts';
import { measurePlacement, optimalPlacementCost, tightInstance } from '@entropy/test-support/placement-optimum.ts';
import { contextSwitch, DEFAULT_TIME_LIMIT_MS } from './context-switch.ts';
import { compileProblem } from '../model/problem.ts';
import { placementLowerBound } from './placement-cost.ts';

const SEEDS = 120;
let highs: HighsSolver;
beforeAll(async () => {
  highs = await loadHighs();
});

describe('placement cost on tight instances of up to 8 nodes and 30 VMs', () => {
  it('is the exact minimum on at least 90% of them, 1% above it at most on average; every plan verified, within the default time limit', () => {
    const m = measurePlacement(highs, 1, SEEDS);
    expect(m.disagreements, 'seeds where the engine and the MILP disagree on feasibility').toEqual([]);
    expect(m.records.length).toBeGreaterThan(100);
    for (const r of m.records) {
      expect(r.violation, `seed ${r.seed}`).toBeUndefined();
      expect(r.solveMs, `seed ${r.seed}`).toBeLessThan(DEFAULT_TIME_LIMIT_MS);
      expect(r.cost, `seed ${r.seed}: below the exact minimum`).toBeGreaterThanOrEqual(r.optimum);
      expect(r.lowerBound, `seed ${r.seed}: the bound`).toBeLessThanOrEqual(r.optimum + 1e-6);
    }
    const misses = m.records
      .filter((r) => r.cost !== r.optimum)
      .map((r) => `seed ${r.seed}: ${r.cost} vs ${r.optimum}`);
    expect(m.optimal / m.records.length, misses.join('; ')).toBeGreaterThanOrEqual(0.9);
    expect(m.meanRatio).toBeLessThanOrEqual(1.01);
  });

  it('proves its lower bound: never above the exact minimum', () => {
    for (let seed = 1; seed <= 40; seed++) {
      const instance = tightInstance(seed);
      const best = optimalPlacementCost(highs, instance);
      if (best === undefined) continue;
      const p = compileProblem(instance.configuration, instance.decision, instance.costModel);
      expect(placementLowerBound(p), `seed ${seed}`).toBeLessThanOrEqual(best + 1e-6);
    }
  });

  it('gives the same plan for the same instance and work budget, whatever the wall clock allows', () => {
    for (const seed of [3, 17, 42]) {
      const instance = tightInstance(seed);
      const a = contextSwitch(instance.configuration, instance.decision, instance.costModel, {
        workBudget: 2_000,
        timeLimitMs: 60_000,
      });
      const b = contextSwitch(instance.configuration, instance.decision, instance.costModel, {
        workBudget: 2_000,
        timeLimitMs: 60_000,
      });
      if (!a.feasible || !b.feasible) continue;
      const strip = (x: typeof a) => ({ ...x, solveMs: 0 });
      expect(strip(b)).toEqual(strip(a));
      expect(a.stats!.stoppedBy).not.toBe('time-limit');
    }
  });
});
