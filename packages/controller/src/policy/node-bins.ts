import type { Node } from '../model/configuration.ts';
import type { Resources } from '../model/resources.ts';

const EPSILON = 1e-9;

/**
 * Free capacity per online node, for the admission checks of the policies. This is only a
 * policy's estimate of what fits; the context switch computes the real placement.
 */
export class NodeBins {
  private readonly free: Map<string, Record<string, number>>;

  constructor(nodes: readonly Node[]) {
    this.free = new Map(nodes.filter((n) => n.state === 'online').map((n) => [n.id, { ...n.capacity }]));
  }

  /** Takes `size` from a node's free capacity (which may go negative on an overloaded node). */
  reserve(node: string | undefined, size: Resources): void {
    const free = node === undefined ? undefined : this.free.get(node);
    if (free) for (const [d, x] of Object.entries(size)) free[d] = (free[d] ?? 0) - x;
  }

  /**
   * Places every size first-fit (in node order; largest first when `decreasing`, by the sum of
   * the sizes' shares of the cluster). Commits and returns true when all fit, else changes nothing.
   */
  placeAll(sizes: readonly Resources[], decreasing = false): boolean {
    const order = sizes.map((_, i) => i);
    if (decreasing) {
      const weight = (r: Resources) => Object.entries(r).reduce((s, [d, x]) => s + x / Math.max(EPSILON, this.total(d)), 0);
      order.sort((a, b) => weight(sizes[b]!) - weight(sizes[a]!) || a - b);
    }
    const taken: [Record<string, number>, Resources][] = [];
    for (const i of order) {
      const size = sizes[i]!;
      const bin = [...this.free.values()].find((free) => fitsIn(size, free));
      if (!bin) {
        for (const [free, s] of taken) for (const [d, x] of Object.entries(s)) free[d] = free[d]! + x;
        return false;
      }
      for (const [d, x] of Object.entries(size)) bin[d] = (bin[d] ?? 0) - x;
      taken.push([bin, size]);
    }
    return true;
  }

  private total(dimension: string): number {
    let sum = 0;
    for (const free of this.free.values()) sum += Math.max(0, free[dimension] ?? 0);
    return sum;
  }
}

function fitsIn(size: Resources, free: Record<string, number>): boolean {
  for (const [d, x] of Object.entries(size)) if (x > (free[d] ?? 0) + EPSILON) return false;
  return true;
}
