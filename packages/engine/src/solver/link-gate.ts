import type { NetworkRoute } from '../model/network.ts';
import { EPSILON, type Problem } from '../model/problem.ts';

/**
 * The planner's view of the network (BtrPlace's CNetwork cumulatives): the bandwidth each link
 * direction and switch carries at the current instant. A migration starts only if every element of
 * its route has room for its bandwidth, or is idle (a route whose bandwidth exceeds a switch it
 * crosses still runs, alone); it then depends on the migrations that freed those elements before,
 * as an arrival depends on the actions that freed its node. A migration's end wakes the nodes whose
 * arrivals waited for bandwidth.
 */
export class LinkGate {
  private readonly used: Float64Array;
  private readonly capacity: Float64Array;
  /** Per element: the migrations (task ids) that ended on it so far. */
  private readonly freedBy: number[][];
  /** Destinations of migrations that waited for bandwidth since the last end. */
  private readonly waiting = new Set<number>();
  private readonly routes = new Map<number, NetworkRoute | null>();

  constructor(private readonly p: Problem) {
    const elements = p.network?.elements ?? [];
    this.used = new Float64Array(elements.length);
    this.capacity = Float64Array.from(elements, (e) => e.capacity);
    this.freedBy = elements.map(() => []);
  }

  private route(from: number, to: number): NetworkRoute | undefined {
    const key = from * this.p.nodeCount + to;
    let r = this.routes.get(key);
    if (r === undefined) {
      const { nodes } = this.p.configuration;
      r = this.p.network?.route(nodes[from]!.id, nodes[to]!.id) ?? null;
      this.routes.set(key, r);
    }
    return r ?? undefined;
  }

  /** Whether a migration from `from` to `to` may start now; if not, its destination is woken by the next end. */
  fits(from: number, to: number): boolean {
    const r = this.route(from, to);
    if (!r) return true;
    for (const e of r.elements) {
      const used = this.used[e]!;
      if (used > 0 && used + r.bandwidth > this.capacity[e]! * (1 + EPSILON)) {
        this.waiting.add(to);
        return false;
      }
    }
    return true;
  }

  /** A migration starts: its bandwidth is held on its route. Returns the migrations it depends on (they freed the route). */
  start(from: number, to: number): number[] {
    const r = this.route(from, to);
    if (!r) return [];
    const deps = new Set<number>();
    for (const e of r.elements) {
      this.used[e] += r.bandwidth;
      for (const id of this.freedBy[e]!) deps.add(id);
    }
    return [...deps];
  }

  /** Migration `id` ends: its route is free again; the destinations that waited for bandwidth go into `wake`. */
  end(id: number, from: number, to: number, wake: Set<number>): void {
    const r = this.route(from, to);
    if (!r) return;
    for (const e of r.elements) {
      this.used[e] -= r.bandwidth;
      if (this.used[e]! < EPSILON) this.used[e] = 0;
      this.freedBy[e]!.push(id);
    }
    for (const n of this.waiting) wake.add(n);
    this.waiting.clear();
  }
}
