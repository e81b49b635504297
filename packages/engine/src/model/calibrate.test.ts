import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type CostSample, fitCostModel } from './calibrate.ts';
import { type CostKind, costModelWith, DEFAULT_COST_MODEL, type LinearCost } from './cost-model.ts';
import { nonNegativeLeastSquares, theilSen } from './robust-line.ts';

/** A seeded generator: the same samples on every run. */
function random(seed: number): () => number {
  let s = seed >>> 0;
  return () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32;
}

/** Samples of `line` with normal noise (`noise` x the duration) and a share of outliers 2 to 8 times too long or 10x too short. */
function samplesOf(
  kind: CostKind,
  line: LinearCost,
  count: number,
  options: { seed: number; noise: number; outliers: number; node?: string },
): CostSample[] {
  const rnd = random(options.seed);
  const gauss = () => Math.sqrt(-2 * Math.log(1 - rnd())) * Math.cos(2 * Math.PI * rnd());
  return Array.from({ length: count }, () => {
    const mem = 256 + Math.round(rnd() * 7936);
    const exact = line.base + line.perMiB * mem;
    const r = rnd();
    const measured =
      r < options.outliers / 2
        ? exact * (2 + 6 * rnd())
        : r < options.outliers
          ? exact / 10
          : exact * (1 + options.noise * gauss());
    return {
      kind,
      mem,
      durationMs: Math.max(0, Math.round(measured)),
      ...(options.node ? { node: options.node } : {}),
    };
  });
}

const TRUE: Partial<Record<CostKind, LinearCost>> = {
  migrate: { base: 350, perMiB: 1.6 },
  suspend: { base: 120, perMiB: 0.8 },
  resumeRemote: { base: 500, perMiB: 2.5 },
  run: { base: 4200, perMiB: 0.05 },
};

describe('fitCostModel', () => {
  it('recovers a known model from noisy samples with 10% outliers, within 10% on base and 3% on perMiB', () => {
    const samples = Object.entries(TRUE).flatMap(([kind, line], i) =>
      samplesOf(kind as CostKind, line, 300, { seed: 11 + i, noise: 0.05, outliers: 0.1 }),
    );
    const { model, kinds } = fitCostModel(samples);
    for (const [kind, line] of Object.entries(TRUE) as [CostKind, LinearCost][]) {
      expect(Math.abs(model[kind].base - line.base), `${kind} base ${model[kind].base}`).toBeLessThan(
        0.1 * line.base + 20,
      );
      expect(Math.abs(model[kind].perMiB - line.perMiB), `${kind} perMiB ${model[kind].perMiB}`).toBeLessThan(
        0.03 * line.perMiB + 0.005,
      );
      const k = kinds.find((c) => c.kind === kind)!;
      expect(k.samples).toBe(300);
      expect(k.outliers).toBeGreaterThanOrEqual(20);
      expect(k.mdapeAfter).toBeLessThan(0.05);
      expect(k.mdapeAfter).toBeLessThan(k.mdapeBefore);
      // A run's duration hardly depends on memory: its variance is mostly noise.
      if (kind !== 'run') expect(k.r2).toBeGreaterThan(0.9);
      expect(k.nodes).toEqual([]);
    }
    // Kinds without samples keep the base model's lines.
    expect(model.stop).toEqual(DEFAULT_COST_MODEL.stop);
    expect(model.pause).toEqual(DEFAULT_COST_MODEL.pause);
    expect(kinds.map((k) => k.kind)).toEqual(['run', 'suspend', 'resumeRemote', 'migrate']);
  });

  it('keeps the lines of a base model for the kinds without samples', () => {
    const base = costModelWith({ stop: { base: 2500 }, migrate: { base: 1, perMiB: 9 } });
    const { model } = fitCostModel(samplesOf('migrate', TRUE.migrate!, 50, { seed: 3, noise: 0, outliers: 0 }), base);
    expect(model.stop).toEqual({ base: 2500, perMiB: 0 });
    expect(model.migrate.perMiB).toBeCloseTo(1.6, 2);
  });

  it('never gives a negative coefficient: a falling trend is flat, a line below the origin goes through it', () => {
    const falling = [1000, 2000, 3000, 4000].map((mem, i) => ({
      kind: 'stop' as const,
      mem,
      durationMs: 1000 - i * 100,
    }));
    const below = [1000, 2000, 3000, 4000].map((mem) => ({
      kind: 'migrate' as const,
      mem,
      durationMs: 2 * mem - 1000,
    }));
    const { model } = fitCostModel([...falling, ...below]);
    expect(model.stop).toEqual({ base: 850, perMiB: 0 });
    expect(model.migrate.base).toBe(0);
    expect(model.migrate.perMiB).toBeGreaterThan(1.5);
  });

  it('scales the base line when every sample has one memory size', () => {
    const samples = [10, 11, 9, 10, 500].map((d) => ({ kind: 'suspend' as const, mem: 1000, durationMs: d * 100 }));
    const { model, kinds } = fitCostModel(samples, costModelWith({ suspend: { base: 200, perMiB: 0.8 } }));
    expect(kinds[0]).toMatchObject({ method: 'scaled', outliers: 1 });
    expect(model.suspend.base + model.suspend.perMiB * 1000).toBeCloseTo(1000, 6);
    expect(model.suspend.base / model.suspend.perMiB).toBeCloseTo(200 / 0.8, 6);
  });

  it('gives a node its own line when it differs by more than 20% with at least 8 samples, and fits the cluster without it', () => {
    const line = TRUE.migrate!;
    const slow = { base: 2 * line.base, perMiB: 2 * line.perMiB };
    const samples = [
      ...['n1', 'n2', 'n3'].flatMap((node, i) =>
        samplesOf('migrate', line, 40, { seed: 20 + i, noise: 0.03, outliers: 0.05, node }),
      ),
      ...samplesOf('migrate', slow, 40, { seed: 30, noise: 0.03, outliers: 0.05, node: 'n4' }),
      // Slower still, but too few samples to tell.
      ...samplesOf('migrate', slow, 7, { seed: 31, noise: 0.03, outliers: 0, node: 'n5' }),
      // 10% slower: within the rule's 20%.
      ...samplesOf('migrate', { base: 1.1 * line.base, perMiB: 1.1 * line.perMiB }, 40, {
        seed: 32,
        noise: 0.03,
        outliers: 0,
        node: 'n6',
      }),
    ];
    const { model, kinds } = fitCostModel(samples);
    expect(Object.keys(model.nodes ?? {})).toEqual(['n4']);
    expect(Math.abs(model.nodes!.n4!.migrate!.perMiB - slow.perMiB)).toBeLessThan(0.05 * slow.perMiB);
    expect(kinds[0]!.nodes).toEqual([{ node: 'n4', samples: 40, line: model.nodes!.n4!.migrate }]);
    // The cluster's line is the other nodes': n4 no longer pulls it up (n5 and n6 do a little).
    expect(Math.abs(model.migrate.perMiB - line.perMiB)).toBeLessThan(0.1 * line.perMiB);
    expect(fitCostModel(samples, DEFAULT_COST_MODEL, { nodeDeviation: 0.05 }).model.nodes).toHaveProperty('n6');
  });

  it("drops a base model's node line when the node's samples now agree with the cluster, and keeps it when they are too few", () => {
    const base = costModelWith({
      nodes: { n1: { migrate: { base: 0, perMiB: 5 } }, n2: { migrate: { base: 0, perMiB: 5 }, run: { base: 1 } } },
    });
    const samples = [
      ...samplesOf('migrate', TRUE.migrate!, 20, { seed: 1, noise: 0.02, outliers: 0, node: 'n1' }),
      ...samplesOf('migrate', TRUE.migrate!, 3, { seed: 2, noise: 0.02, outliers: 0, node: 'n2' }),
      ...samplesOf('migrate', TRUE.migrate!, 20, { seed: 3, noise: 0.02, outliers: 0, node: 'n3' }),
    ];
    const { model } = fitCostModel(samples, base);
    expect(model.nodes).toEqual({ n2: { migrate: { base: 0, perMiB: 5 }, run: { base: 1, perMiB: 0 } } });
  });

  it('fits exact samples of any non-negative line exactly (property)', () => {
    fc.assert(
      fc.property(
        fc.double({ min: 0, max: 10_000, noNaN: true }),
        fc.double({ min: 0, max: 10, noNaN: true }),
        fc.uniqueArray(fc.integer({ min: 1, max: 65_536 }), { minLength: 2, maxLength: 40 }),
        (b, slope, mems) => {
          const points = mems.map((x) => ({ x, y: b + slope * x }));
          const line = nonNegativeLeastSquares(points);
          expect(line.base).toBeCloseTo(b, 3);
          expect(line.slope).toBeCloseTo(slope, 6);
          const ts = theilSen(points)!;
          expect(ts.slope).toBeCloseTo(slope, 6);
        },
      ),
    );
  });
});
