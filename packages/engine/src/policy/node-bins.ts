import type { Node } from '../model/configuration.ts';
import type { Resources } from '../model/resources.ts';
import type { Shortage } from './policy.ts';

const EPSILON = 1e-9;

/**
 * Free capacity per online node, for the admission checks of the policies. This is only a
 * policy's estimate of what fits; the context switch computes the real placement.
 *
 * First fit in node order on 100,000 VMs and 1,000 nodes cannot scan the nodes per VM: the free
 * room sits in a segment tree over the nodes that keeps, per dimension, the largest free amount
 * and the sum of the positive ones under each subtree. The search for the first node that fits
 * skips every subtree whose largest free amount is short in some dimension, and a dimension's
 * total free room is read at the root.
 */
export class NodeBins {
  private readonly index = new Map<string, number>();
  /** Leaves: a power of two at least the number of nodes; the padding leaves never fit. */
  private readonly leaves: number;
  private readonly dims = new Map<string, Dimension>();
  /** Scratch: the size being placed, as dimension, amount, dimension, amount... */
  private readonly need: (Dimension | number)[] = [];

  constructor(nodes: readonly Node[]) {
    const online: Node[] = [];
    for (const n of nodes) {
      if (n.state !== 'online') continue;
      const at = this.index.get(n.id);
      // A repeated id keeps its first place and its last capacity.
      if (at === undefined) this.index.set(n.id, online.push(n) - 1);
      else online[at] = n;
    }
    let leaves = 1;
    while (leaves < online.length) leaves *= 2;
    this.leaves = leaves;
    for (const n of online) for (const d in n.capacity) this.dimension(d);
    for (const [d, dim] of this.dims) {
      for (const [i, n] of online.entries()) dim.free[i] = n.capacity[d] ?? 0;
      this.build(dim);
    }
  }

  /** Takes `size` from a node's free capacity (which may go negative on an overloaded node). */
  reserve(node: string | undefined, size: Resources): void {
    const i = node === undefined ? undefined : this.index.get(node);
    if (i === undefined) return;
    for (const d in size) this.set(this.dimension(d), i, this.dimension(d).free[i]! - size[d]!);
  }

  /** The free room of an online node, in every dimension the bins know; undefined for other nodes. */
  freeRoom(node: string): Resources | undefined {
    const i = this.index.get(node);
    if (i === undefined) return undefined;
    const room: Record<string, number> = {};
    for (const [d, dim] of this.dims) room[d] = dim.free[i]!;
    return room;
  }

  /**
   * Places every size first-fit (in node order; largest first when `decreasing`, by the sum of
   * the sizes' shares of the cluster). Commits and returns true when all fit, else changes nothing.
   */
  placeAll(sizes: readonly Resources[], decreasing = false): boolean {
    const order = sizes.map((_, i) => i);
    if (decreasing && sizes.length > 1) {
      // The totals do not change while sorting: one weight per size.
      const weights = sizes.map((r) => {
        let w = 0;
        for (const d in r) w += r[d]! / Math.max(EPSILON, this.total(d));
        return w;
      });
      order.sort((a, b) => weights[b]! - weights[a]! || a - b);
    }
    // One scratch list of needs for every size, and the placements as two lists: no object per VM.
    const need = this.need;
    const takenNodes: number[] = [];
    for (const i of order) {
      const size = sizes[i]!;
      need.length = 0;
      for (const d in size) need.push(this.dimension(d), size[d]!);
      const node = this.firstFit(need, 1);
      if (node < 0) {
        for (const [k, n] of takenNodes.entries()) {
          const placed = sizes[order[k]!]!;
          for (const d in placed) this.set(this.dims.get(d)!, n, this.dims.get(d)!.free[n]! + placed[d]!);
        }
        return false;
      }
      for (let k = 0; k < need.length; k += 2) {
        const dim = need[k] as Dimension;
        this.set(dim, node, dim.free[node]! - (need[k + 1] as number));
      }
      takenNodes.push(node);
    }
    return true;
  }

  /**
   * What a group of sizes that does not fit lacks most: the dimension whose total need exceeds the
   * free room of all the nodes by the largest share, else one size larger than any node's free room,
   * else (each fits somewhere, not all together) the dimension of the largest total share.
   */
  shortage(sizes: readonly Resources[]): Shortage {
    const needed = new Map<string, number>();
    for (const size of sizes) for (const d in size) needed.set(d, (needed.get(d) ?? 0) + size[d]!);
    let worst: Shortage | undefined;
    let worstShare = 0;
    for (const [d, need] of needed) {
      const free = this.total(d);
      const share = need / Math.max(EPSILON, free);
      if (need > free + EPSILON && share > worstShare) {
        worst = { resource: d, needed: need, free, scope: 'cluster' };
        worstShare = share;
      }
    }
    if (worst) return worst;
    for (const size of sizes)
      for (const d in size) {
        const most = Math.max(0, this.dimension(d).max[1]!);
        const share = size[d]! / Math.max(EPSILON, most);
        if (size[d]! > most + EPSILON && share > worstShare) {
          worst = { resource: d, needed: size[d]!, free: most, scope: 'node' };
          worstShare = share;
        }
      }
    if (worst) return worst;
    for (const [d, need] of needed) {
      const share = need / Math.max(EPSILON, this.total(d));
      if (!worst || share > worstShare) {
        worst = { resource: d, needed: need, free: this.total(d), scope: 'packing' };
        worstShare = share;
      }
    }
    return worst ?? { resource: 'cpu', needed: 0, free: this.total('cpu'), scope: 'packing' };
  }

  /** The sum of the positive free amounts of a dimension over the nodes. */
  private total(d: string): number {
    return this.dims.get(d)?.positive[1] ?? 0;
  }

  /** The first node, in node order, under tree node `t` with room for every need (dimension, amount, ...); -1 when none. */
  private firstFit(need: readonly (Dimension | number)[], t: number): number {
    for (let k = 0; k < need.length; k += 2)
      if ((need[k + 1] as number) > (need[k] as Dimension).max[t]! + EPSILON) return -1;
    if (t >= this.leaves) return t - this.leaves < this.index.size ? t - this.leaves : -1;
    const left = this.firstFit(need, 2 * t);
    return left >= 0 ? left : this.firstFit(need, 2 * t + 1);
  }

  private dimension(d: string): Dimension {
    let dim = this.dims.get(d);
    if (dim === undefined) {
      // A dimension no node names: every node has none of it.
      dim = {
        free: new Float64Array(this.leaves),
        max: new Float64Array(2 * this.leaves),
        positive: new Float64Array(2 * this.leaves),
      };
      this.dims.set(d, dim);
      this.build(dim);
    }
    return dim;
  }

  private build(dim: Dimension): void {
    const nodes = this.index.size;
    for (let i = 0; i < this.leaves; i++) {
      const v = dim.free[i]!;
      dim.max[this.leaves + i] = i < nodes ? v : -Infinity;
      dim.positive[this.leaves + i] = i < nodes ? Math.max(0, v) : 0;
    }
    for (let t = this.leaves - 1; t >= 1; t--) {
      dim.max[t] = Math.max(dim.max[2 * t]!, dim.max[2 * t + 1]!);
      dim.positive[t] = dim.positive[2 * t]! + dim.positive[2 * t + 1]!;
    }
  }

  private set(dim: Dimension, node: number, value: number): void {
    dim.free[node] = value;
    let t = this.leaves + node;
    dim.max[t] = value;
    dim.positive[t] = Math.max(0, value);
    for (t >>= 1; t >= 1; t >>= 1) {
      dim.max[t] = Math.max(dim.max[2 * t]!, dim.max[2 * t + 1]!);
      dim.positive[t] = dim.positive[2 * t]! + dim.positive[2 * t + 1]!;
    }
  }
}

interface Dimension {
  /** Per node, in node order. */
  readonly free: Float64Array;
  /** Segment trees, root at 1: the largest free amount, and the sum of the positive ones. */
  readonly max: Float64Array;
  readonly positive: Float64Array;
}
