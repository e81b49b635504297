import { describe, expect, it } from 'vitest';
import { generateInstance } from '@entropy/test-support/generate-instance.ts';
import { contextSwitch, defaultTimeLimitFor, DEFAULT_TIME_LIMIT_MS } from './context-switch.ts';

// 5,000 nodes and 30,000 VMs: the repair, the improvement and the schedule each take tens to hundreds of ms here.
const large = generateInstance({ seed: 7, nodes: 5_000, vms: 30_000, load: 0.8 });

describe('the time limit bounds the whole solve', () => {
  it('gives up with a reason naming the limit when no first plan fits in it', () => {
    const unbounded = contextSwitch(large.configuration, large.decision, large.costModel, { timeLimitMs: 120_000 });
    const plan = contextSwitch(large.configuration, large.decision, large.costModel, { timeLimitMs: 1 });
    expect(plan.feasible).toBe(false);
    if (plan.feasible) return;
    expect(plan.reason).toMatch(/^no plan within the time limit of 1 ms \(/);
    // The linear phases are not cut midway, so the bound is not 1 ms; but the solve stops long before a whole one
    // (measured against the same machine's unbounded solve, whatever its load).
    expect(plan.solveMs).toBeLessThan(unbounded.solveMs / 2);
  });

  it('keeps the best plan so far when the limit stops the improvement, and says so', () => {
    const unbounded = contextSwitch(large.configuration, large.decision, large.costModel, {
      timeLimitMs: 120_000,
      workBudget: 50_000_000,
    });
    expect(unbounded.feasible).toBe(true);
    if (!unbounded.feasible) return;
    // Enough for a first plan, not for the improvement to finish.
    const limit = Math.max(200, Math.round(unbounded.solveMs * 0.8));
    const bounded = contextSwitch(large.configuration, large.decision, large.costModel, {
      timeLimitMs: limit,
      workBudget: 50_000_000,
    });
    if (bounded.feasible) {
      expect(bounded.solveMs).toBeLessThan(limit + 400);
      expect(bounded.stats!.finalCost).toBeGreaterThanOrEqual(unbounded.stats!.finalCost);
      // A worse result than the unbounded search's is the wall clock's doing, and the statistics say so.
      if (bounded.stats!.finalCost > unbounded.stats!.finalCost) expect(bounded.stats!.stoppedBy).toBe('time-limit');
    } else expect(bounded.reason).toMatch(/time limit/);
  });

  it('reads no clock but the one it is given: a frozen clock never stops it, one past the limit stops it at once', () => {
    const small = generateInstance({ seed: 3, nodes: 20, vms: 120, load: 0.7 });
    const frozen = contextSwitch(small.configuration, small.decision, small.costModel, {
      timeLimitMs: 1,
      clock: () => 0,
    });
    expect(frozen).toMatchObject({ feasible: true, solveMs: 0 });
    let t = 0;
    const late = contextSwitch(small.configuration, small.decision, small.costModel, {
      timeLimitMs: 1000,
      clock: () => (t += 2000),
    });
    expect(late).toMatchObject({
      feasible: false,
      reason: expect.stringMatching(/^no plan within the time limit of 1000 ms/),
    });
  });

  it('grows the default limit with the cluster: 2 s, and 25 ms per 1,000 VMs', () => {
    expect(defaultTimeLimitFor(0)).toBe(DEFAULT_TIME_LIMIT_MS);
    expect(defaultTimeLimitFor(200_000)).toBe(7_000);
  });
});
