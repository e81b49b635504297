import { EPSILON, fits, type Problem } from '../model/problem.ts';

/** Buckets of free room: enough that a bucket holds few nodes, few enough to walk them all when nothing fits. */
const BUCKETS = 512;

/**
 * The usable nodes bucketed by their free room (normalised by the mean capacity of each dimension,
 * summed over dimensions) in one load array, kept up to date as VMs are assigned. Best fit (the
 * least free room left) is then a walk up the buckets from the VM's own size instead of a scan of
 * every node: the first bucket holding a node that takes the VM, and where it fits right now,
 * holds the answer, and nodes of later buckets all have more room. On 20,000 nodes this turns the
 * placement of every VM that must move from a scan of the cluster into a few dozen checks.
 */
export class FitIndex {
  private readonly bucketOf: Int32Array;
  private readonly members: Set<number>[];
  private readonly width: number;
  private readonly dimCount: number;

  constructor(
    private readonly p: Problem,
    private readonly load: Float64Array,
    private readonly capInv: Float64Array,
  ) {
    this.dimCount = p.dims.length;
    let most = 0;
    for (let n = 0; n < p.nodeCount; n++) if (p.usable[n]) most = Math.max(most, this.roomOf(n, true));
    this.width = Math.max(most, EPSILON) / (BUCKETS - 1);
    this.members = Array.from({ length: BUCKETS }, () => new Set<number>());
    this.bucketOf = new Int32Array(p.nodeCount).fill(-1);
    for (let n = 0; n < p.nodeCount; n++) if (p.usable[n]) this.update(n);
  }

  /** Normalised free room of `n`, summed over dimensions (negative when overloaded). */
  roomOf(n: number, empty = false): number {
    let free = 0;
    const offset = n * this.dimCount;
    for (let d = 0; d < this.dimCount; d++)
      free += (this.p.capacity[offset + d]! - (empty ? 0 : this.load[offset + d]!)) * this.capInv[d]!;
    return free;
  }

  /** Call after `n`'s load changed. */
  update(n: number): void {
    const bucket = this.bucketFor(this.roomOf(n));
    const old = this.bucketOf[n]!;
    if (old === bucket) return;
    if (old >= 0) this.members[old]!.delete(n);
    this.members[bucket]!.add(n);
    this.bucketOf[n] = bucket;
  }

  /**
   * The node with the least free room among those where `v` fits in the load array and is
   * accepted, preferring one where it fits in `now` as well (it need not wait), then one online:
   * the same choice as a scan of every node ranked that way. -1 when none takes it.
   */
  bestFit(v: number, now: Float64Array, accept: (n: number) => boolean): number {
    const p = this.p;
    let size = 0;
    for (let d = 0; d < this.dimCount; d++) size += p.demand[v * this.dimCount + d]! * this.capInv[d]!;
    let best = -1;
    let bestTier = Infinity;
    let bestRoom = Infinity;
    for (let bucket = this.bucketFor(size); bucket < BUCKETS; bucket++) {
      for (const n of this.members[bucket]!) {
        if (!fits(p, this.load, n, v) || !accept(n)) continue;
        const tier = (fits(p, now, n, v) ? 0 : 2) + (p.online[n] ? 0 : 1);
        const room = this.roomOf(n);
        if (tier < bestTier || (tier === bestTier && (room < bestRoom || (room === bestRoom && n < best)))) {
          best = n;
          bestTier = tier;
          bestRoom = room;
        }
      }
      // Later buckets only hold roomier nodes: a node of the best tier found here cannot be beaten.
      if (bestTier === 0) break;
    }
    return best;
  }

  private bucketFor(room: number): number {
    if (!(room > 0)) return 0;
    return Math.min(BUCKETS - 1, Math.floor(room / this.width));
  }
}
