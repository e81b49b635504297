import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Node } from '../model/configuration.ts';
import type { Resources } from '../model/resources.ts';
import { NodeBins } from './node-bins.ts';

const EPSILON = 1e-9;

/** First fit by scanning the nodes per size: the definition NodeBins' segment tree must match. */
class ScanningBins {
  readonly free: Map<string, Record<string, number>>;
  constructor(nodes: readonly Node[]) {
    this.free = new Map(nodes.filter((n) => n.state === 'online').map((n) => [n.id, { ...n.capacity }]));
  }
  reserve(node: string | undefined, size: Resources): void {
    const free = node === undefined ? undefined : this.free.get(node);
    if (free) for (const [d, x] of Object.entries(size)) free[d] = (free[d] ?? 0) - x;
  }
  placeAll(sizes: readonly Resources[], decreasing = false): boolean {
    const order = sizes.map((_, i) => i);
    if (decreasing) {
      const weight = (r: Resources) =>
        Object.entries(r).reduce((s, [d, x]) => s + x / Math.max(EPSILON, this.total(d)), 0);
      order.sort((a, b) => weight(sizes[b]!) - weight(sizes[a]!) || a - b);
    }
    const taken: [Record<string, number>, Resources][] = [];
    for (const i of order) {
      const size = sizes[i]!;
      const bin = [...this.free.values()].find((free) =>
        Object.entries(size).every(([d, x]) => !(x > (free[d] ?? 0) + EPSILON)),
      );
      if (!bin) {
        for (const [free, s] of taken) for (const [d, x] of Object.entries(s)) free[d] = free[d]! + x;
        return false;
      }
      for (const [d, x] of Object.entries(size)) bin[d] = (bin[d] ?? 0) - x;
      taken.push([bin, size]);
    }
    return true;
  }
  private total(d: string): number {
    let sum = 0;
    for (const free of this.free.values()) sum += Math.max(0, free[d] ?? 0);
    return sum;
  }
}

// Integer amounts: the sums of free room are then exact in any order, so both must agree exactly.
const resources = fc.record(
  { cpu: fc.integer({ min: 0, max: 8 }), mem: fc.integer({ min: 0, max: 8 }) },
  { requiredKeys: [] },
);
const sizeArb = fc.oneof(
  resources,
  fc.record({ cpu: fc.integer({ min: 0, max: 4 }), gpu: fc.integer({ min: 0, max: 2 }) }),
);
const nodesArb = fc.array(
  fc.record({ id: fc.constantFrom('n1', 'n2', 'n3', 'n4', 'n5', 'n6'), capacity: resources, online: fc.boolean() }),
  { maxLength: 7 },
);
const opArb = fc.oneof(
  fc.record({
    kind: fc.constant('reserve' as const),
    node: fc.option(fc.constantFrom('n1', 'n2', 'n3', 'n9'), { nil: undefined }),
    size: sizeArb,
  }),
  fc.record({
    kind: fc.constant('place' as const),
    sizes: fc.array(sizeArb, { maxLength: 6 }),
    decreasing: fc.boolean(),
  }),
);

describe('NodeBins', () => {
  it('places first fit in node order, largest first on request, exactly as scanning the nodes per size does', () => {
    fc.assert(
      fc.property(nodesArb, fc.array(opArb, { maxLength: 20 }), (specs, ops) => {
        const nodes: Node[] = specs.map((s) => ({
          id: s.id,
          capacity: s.capacity,
          state: s.online ? 'online' : 'offline',
        }));
        const bins = new NodeBins(nodes);
        const reference = new ScanningBins(nodes);
        for (const op of ops) {
          if (op.kind === 'reserve') {
            bins.reserve(op.node, op.size);
            reference.reserve(op.node, op.size);
          } else expect(bins.placeAll(op.sizes, op.decreasing)).toBe(reference.placeAll(op.sizes, op.decreasing));
          for (const [id, free] of reference.free) {
            const room = bins.freeRoom(id)!;
            for (const d of new Set([...Object.keys(free), ...Object.keys(room)]))
              expect(room[d] ?? 0).toBe(free[d] ?? 0);
          }
        }
      }),
      { numRuns: 1000, seed: 7 },
    );
  });

  it('finds no room on a cluster without online nodes, even for a size of nothing', () => {
    const bins = new NodeBins([{ id: 'n1', capacity: { cpu: 4 }, state: 'offline' }]);
    expect(bins.placeAll([{}])).toBe(false);
    expect(bins.placeAll([])).toBe(true);
    expect(bins.freeRoom('n1')).toBeUndefined();
  });

  it('places 20,000 VMs on 1,000 nodes first fit without scanning the nodes per VM', () => {
    const nodes: Node[] = Array.from({ length: 1000 }, (_, i) => ({
      id: `n${i}`,
      capacity: { cpu: 32, mem: 65536 },
      state: 'online',
    }));
    const bins = new NodeBins(nodes);
    const sizes = Array.from({ length: 20_000 }, (_, i) => ({ cpu: 1 + (i % 2), mem: 1024 }));
    const started = performance.now();
    expect(bins.placeAll(sizes, true)).toBe(true);
    // Largest first: the 10,000 VMs of 2 cores fill the first 625 nodes, the others the next 313.
    expect(bins.freeRoom('n624')).toEqual({ cpu: 0, mem: 65536 - 16 * 1024 });
    expect(bins.freeRoom('n937')!.cpu).toBeLessThan(32);
    expect(bins.freeRoom('n938')).toEqual({ cpu: 32, mem: 65536 });
    // A scan of the nodes per VM takes seconds here (and the totals per comparison, minutes); the
    // tree takes tens of milliseconds. The bound is loose: the machines are shared and slow.
    expect(performance.now() - started).toBeLessThan(5000);
  });
});
