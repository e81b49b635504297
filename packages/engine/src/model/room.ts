import type { Node } from './configuration.ts';
import type { Resources } from './resources.ts';

/**
 * Room taken on nodes by VMs a plan must plan around (another owner's, a vjob left alone this turn,
 * a VM an agent is bringing in): accumulated per node, then subtracted from the nodes' capacities.
 */
export class TakenRoom {
  private readonly taken = new Map<string, Record<string, number>>();

  take(node: string, demand: Resources): void {
    let t = this.taken.get(node);
    if (t === undefined) this.taken.set(node, (t = {}));
    for (const k in demand) t[k] = (t[k] ?? 0) + demand[k]!;
  }

  get size(): number {
    return this.taken.size;
  }

  /** The nodes with what is taken on each removed from its capacity (never below zero); untouched nodes are the same objects. */
  from(nodes: readonly Node[]): Node[] {
    return nodes.map((n) => {
      const t = this.taken.get(n.id);
      if (!t) return n;
      const capacity: Record<string, number> = { ...n.capacity };
      for (const k in t) capacity[k] = Math.max(0, (capacity[k] ?? 0) - t[k]!);
      return { id: n.id, capacity, state: n.state };
    });
  }
}
