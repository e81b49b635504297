/**
 * Plan quality on small instances (up to 6 nodes and 20 VMs), against exact references
 * (packages/test-support/src/exact-optimum.ts): a HiGHS MILP lower bound on any plan, and on instances of at most
 * 4 nodes and 8 VMs that must run, the best plan of the engine's own planner over every viable
 * target. The gap to the bound over-estimates the gap to the true optimum (the bound ignores most
 * waiting for room). Fixed seeds; `pnpm bench -- --suites gap` prints the full report.
 */
import { writeFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Instance } from '../instance/parse-instance.ts';
import {
  loadHighs,
  MEAN_GAP_TARGET,
  measureGaps,
  summarizeGaps,
  type GapRecord,
} from '@entropy/test-support/exact-optimum.ts';
import { toInstanceJson } from '@entropy/test-support/generate-instance.ts';

const COUNT = 200;
const SEED = 1;

let records: GapRecord[];
let instances: Map<string, Instance>;
let looping: string[];
beforeAll(async () => {
  const highs = await loadHighs();
  ({ records, instances, looping } = measureGaps(highs, { count: COUNT, seed: SEED }));
}, 300_000);

const pct = (x: number) => `${(100 * x).toFixed(2)}%`;

/** Writes the worst instances of a family to /tmp in the instance file format, for the engine's authors. */
function writeWorst(family: string, pick: (r: GapRecord) => number, how: string, n = 3): string[] {
  return records
    .filter((r) => r.family === family)
    .sort((a, b) => pick(b) - pick(a))
    .slice(0, n)
    .map((r, k) => {
      const file = `/tmp/entropy-gap-${how}-${family}-${k + 1}.json`;
      writeFileSync(file, `${JSON.stringify(toInstanceJson(instances.get(r.label)!), null, 2)}\n`);
      const best = r.enumeration ? `, best target ${r.enumeration.sumCompletion}` : '';
      return `${file} (${r.label}: engine ${r.engine.sumCompletion}, bound ${r.bound.sumCompletion}${best}; gap ${pct(pick(r))})`;
    });
}

describe('optimality gap on small instances', () => {
  it('measures every family on the same seeded instances', () => {
    for (const s of summarizeGaps(records)) {
      console.log(
        `${s.family}: ${s.instances} instances, ${s.waited} with waiting; vs MILP bound: sum mean ${pct(s.vsBound.sum.mean)} worst ${pct(s.vsBound.sum.worst)}, ` +
          `makespan mean ${pct(s.vsBound.makespan.mean)} worst ${pct(s.vsBound.makespan.worst)}; vs target enumeration (${s.vsEnumeration.sum.count}): ` +
          `sum mean ${pct(s.vsEnumeration.sum.mean)} worst ${pct(s.vsEnumeration.sum.worst)}, makespan mean ${pct(s.vsEnumeration.makespan.mean)} worst ${pct(s.vsEnumeration.makespan.worst)}`,
      );
    }
    expect(records.filter((r) => r.family === 'random')).toHaveLength(COUNT);
    expect(records.filter((r) => r.family === 'generated')).toHaveLength(COUNT);
  });

  it('never finds a plan cheaper than the lower bound, or than the best target the planner can reach', () => {
    for (const r of records) {
      expect(r.bound.sumCompletion, r.label).toBeLessThanOrEqual(r.engine.sumCompletion);
      expect(r.bound.makespan, r.label).toBeLessThanOrEqual(r.engine.makespan);
      if (!r.enumeration) continue;
      expect(r.enumeration.sumCompletion, r.label).toBeLessThanOrEqual(r.engine.sumCompletion);
      expect(r.enumeration.makespan, r.label).toBeLessThanOrEqual(r.engine.makespan);
      expect(r.bound.sumCompletion, r.label).toBeLessThanOrEqual(r.enumeration.sumCompletion);
    }
  });

  it('terminates on every instance (the planner does not pivot forever)', () => {
    const files = looping.map((label, k) => {
      const file = `/tmp/entropy-gap-looping-${k + 1}.json`;
      writeFileSync(file, `${JSON.stringify(toInstanceJson(instances.get(label)!), null, 2)}\n`);
      return `${label} -> ${file}`;
    });
    expect(files, 'instances on which contextSwitch pivots without end').toEqual([]);
  });

  for (const family of ['random', 'generated']) {
    it(`keeps the mean gap of the sum of completion times to the MILP bound under 5% (${family} instances)`, () => {
      const s = summarizeGaps(records).find((x) => x.family === family)!;
      if (s.vsBound.sum.mean >= MEAN_GAP_TARGET) {
        const worst = writeWorst(family, (r) => r.gap.sum, 'bound');
        const worstEnum = writeWorst(family, (r) => r.enumerationGap?.sum ?? -1, 'enumeration');
        console.log(
          `worst ${family} instances vs the bound:\n  ${worst.join('\n  ')}\nworst vs the target enumeration:\n  ${worstEnum.join('\n  ')}`,
        );
      }
      expect(s.vsBound.sum.mean).toBeLessThan(MEAN_GAP_TARGET);
    });
  }
});
