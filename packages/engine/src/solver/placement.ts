import {
  actionDuration,
  addDemand,
  EPSILON,
  fits,
  runsAtSource,
  S,
  sourceUsage,
  type Problem,
} from '../model/problem.ts';
import { FitIndex } from './fit-index.ts';
import type { PlacementRules, Rules } from './rules.ts';

// Names kept short because they are everywhere: p is the Problem, v a VM's index, n a node's, d a dimension's;
// flat arrays are indexed vm * dimCount + d and node * dimCount + d.

export type PlacementResult =
  | { readonly ok: true; readonly dest: Int32Array }
  | { readonly ok: false; readonly reason: string; readonly timedOut?: true };

export interface PlacementOptions {
  /** Node visits allowed to the exact search that runs when the heuristics find no viable configuration. */
  readonly exactBudget: number;
  /** The constraints' placement rules; every phase asks them before it uses a node. */
  readonly rules?: Rules;
  /** True once the solve's time limit has passed (search-budget.ts clockCheck): the phases give up. */
  readonly expired?: () => boolean;
}

/** What a phase stopped by the time limit returns: no placement, and why. */
export const TIMED_OUT = 'the time limit passed before a first placement was found';

/**
 * Chooses a host for every VM that must run, so that the target configuration is viable and cheap
 * to reach. Repair mode first: running VMs (and paused ones, which hold their room) stay where they
 * are unless their node is overloaded, sleeping VMs resume where their image is when they fit, and
 * only the VMs that must move or be placed are decided, cheapest (smallest memory) evictions first. When that finds no room, every
 * running VM is repacked; when that fails too, an exact search settles feasibility.
 */
export function placeVms(p: Problem, options: PlacementOptions): PlacementResult {
  const rules = options.rules && !options.rules.empty ? options.rules : undefined;
  const shortage = aggregateShortage(p) ?? pinnedShortage(p);
  if (shortage) return { ok: false, reason: shortage };
  const expired = options.expired ?? (() => false);
  const ctx = new PlacementContext(p, rules, expired);
  const repaired = ctx.repair();
  if (repaired) return { ok: true, dest: repaired };
  if (expired()) return { ok: false, reason: TIMED_OUT, timedOut: true };
  let repacked = ctx.repack('aligned');
  if (!repacked.ok && !expired()) repacked = ctx.repack('best');
  if (repacked.ok) return { ok: true, dest: repacked.dest };
  if (expired()) return { ok: false, reason: TIMED_OUT, timedOut: true };
  const exact = exactPlacement(p, options.exactBudget, rules);
  if (exact.kind === 'found') return { ok: true, dest: exact.dest };
  const blamed = ctx.blame() ?? { vm: repacked.failedVm, load: repacked.load };
  const why = describeNoRoom(p, blamed.vm, blamed.load) + (rules ? ' (or no node its constraints allow has room)' : '');
  return {
    ok: false,
    reason:
      exact.kind === 'proved'
        ? `${why} (no viable configuration exists: exhaustive search)`
        : `${why} (no viable configuration found within the search budget)`,
  };
}

/**
 * How to rank the nodes where a VM fits. `best`: the least free room left (normalised, summed
 * over dimensions); it keeps nodes packed and moves little, but can strand room in one
 * dimension (nodes full in cpu with memory nothing can use). `aligned`: the most free room where
 * the VM's demand lies (dot product of demand and free room), which avoids stranding; the repack
 * tries it first.
 */
type NodeFit = 'best' | 'aligned';

/** Up to this many movable VMs on an overloaded node, the cheapest set to move off is found exhaustively. */
const EXACT_SHED_LIMIT = 12;

function mustRun(p: Problem, v: number): boolean {
  return p.target[v] === S.running;
}

/** Total demand of the VMs that must run against the online capacity, per dimension. */
function aggregateShortage(p: Problem): string | undefined {
  const dimCount = p.dims.length;
  const need = new Float64Array(dimCount);
  const have = new Float64Array(dimCount);
  for (let v = 0; v < p.vmCount; v++)
    if (mustRun(p, v)) for (let d = 0; d < dimCount; d++) need[d] += p.demand[v * dimCount + d]!;
  for (let n = 0; n < p.nodeCount; n++)
    if (p.usable[n]) for (let d = 0; d < dimCount; d++) have[d] += p.capacity[n * dimCount + d]!;
  for (let d = 0; d < dimCount; d++) {
    if (need[d]! > have[d]! + EPSILON) {
      const starting = startingVjobs(p);
      return `${p.dims[d]} short by ${fmt(need[d]! - have[d]!)}: the VMs that must run need ${fmt(need[d]!)}, the online nodes offer ${fmt(have[d]!)}${starting ? ` (vjobs asked to start or resume: ${starting})` : ''}`;
    }
  }
  return undefined;
}

/** A pinned VM (root, quarantine) whose node goes offline, or that must stop running, cannot be helped. */
function pinnedShortage(p: Problem): string | undefined {
  for (let v = 0; v < p.vmCount; v++) {
    if (!p.pinned[v] || !mustRun(p, v)) continue;
    const hostNode = p.host[v]!;
    if (!p.usable[hostNode])
      return `VM '${p.configuration.vms[v]!.id}' may not leave node '${p.configuration.nodes[hostNode]!.id}' (root or quarantine), which must go offline`;
  }
  return undefined;
}

function startingVjobs(p: Problem): string {
  const ids = new Set<string>();
  for (let v = 0; v < p.vmCount; v++) if (mustRun(p, v) && !runsAtSource(p, v)) ids.add(p.configuration.vms[v]!.vjob);
  const list = [...ids];
  return list.length > 8 ? `${list.slice(0, 8).join(', ')} and ${list.length - 8} more` : list.join(', ');
}

export function fmt(value: number): string {
  return Number.isInteger(value) ? String(value) : value.toFixed(2);
}

/** Normalised size of a VM: its demand relative to the mean node capacity, summed over dimensions. */
function sizes(p: Problem): Float64Array {
  const dimCount = p.dims.length;
  const mean = new Float64Array(dimCount);
  let online = 0;
  for (let n = 0; n < p.nodeCount; n++) {
    if (!p.usable[n]) continue;
    online++;
    for (let d = 0; d < dimCount; d++) mean[d] += p.capacity[n * dimCount + d]!;
  }
  const out = new Float64Array(p.vmCount);
  for (let v = 0; v < p.vmCount; v++) {
    let sizeSum = 0;
    for (let d = 0; d < dimCount; d++) if (mean[d]! > 0) sizeSum += p.demand[v * dimCount + d]! / (mean[d]! / online);
    out[v] = sizeSum;
  }
  return out;
}

class PlacementContext {
  private readonly dimCount: number;
  private readonly size: Float64Array;
  /** The VMs running on each node in the source configuration. */
  private readonly sourceOn: number[][];
  /** Usage of the source configuration plus every VM already assigned to a node it is not on. */
  private readonly nowUsage: Float64Array;
  private readonly meanCapInv: Float64Array;

  constructor(
    private readonly p: Problem,
    private readonly rules?: Rules,
    private readonly expired: () => boolean = () => false,
  ) {
    this.dimCount = p.dims.length;
    this.size = sizes(p);
    this.nowUsage = sourceUsage(p);
    this.sourceOn = Array.from({ length: p.nodeCount }, () => []);
    for (let v = 0; v < p.vmCount; v++) if (runsAtSource(p, v)) this.sourceOn[p.host[v]!]!.push(v);
    this.meanCapInv = new Float64Array(this.dimCount);
    let online = 0;
    for (let n = 0; n < p.nodeCount; n++) if (p.usable[n]) online++;
    for (let d = 0; d < this.dimCount; d++) {
      let sum = 0;
      for (let n = 0; n < p.nodeCount; n++) if (p.usable[n]) sum += p.capacity[n * this.dimCount + d]!;
      this.meanCapInv[d] = sum > 0 ? online / sum : 0;
    }
  }

  /** Repair mode. Returns undefined when some VM finds no room even after evictions. */
  repair(): Int32Array | undefined {
    const p = this.p;
    const placementRules = this.rules?.placement();
    this.current = placementRules;
    const dest = new Int32Array(p.vmCount).fill(-1);
    const load = new Float64Array(p.nodeCount * this.dimCount);
    const onNode: number[][] = Array.from({ length: p.nodeCount }, () => []);
    const nowUsage = this.nowUsage.slice();
    let index: FitIndex | undefined;
    const assign = (v: number, n: number) => {
      dest[v] = n;
      addDemand(p, load, n, v, 1);
      index?.update(n);
      onNode[n]!.push(v);
      if (!(runsAtSource(p, v) && p.host[v] === n)) addDemand(p, nowUsage, n, v, 1);
      placementRules?.assign(v, n);
    };
    const unassign = (v: number) => {
      const n = dest[v]!;
      dest[v] = -1;
      addDemand(p, load, n, v, -1);
      index?.update(n);
      const list = onNode[n]!;
      list.splice(list.indexOf(v), 1);
      if (!(runsAtSource(p, v) && p.host[v] === n)) addDemand(p, nowUsage, n, v, -1);
      placementRules?.unassign(v, n);
    };

    const resumes: number[] = [];
    const queue: number[] = [];
    for (let v = 0; v < p.vmCount; v++) {
      if (!mustRun(p, v)) continue;
      const hostNode = p.host[v]!;
      if (runsAtSource(p, v) && p.usable[hostNode]) assign(v, hostNode);
      else if (p.source[v] === S.sleeping && hostNode >= 0 && p.usable[hostNode]) resumes.push(v);
      else queue.push(v);
    }
    // Constraints the kept VMs break (BtrPlace's misplaced VMs) send those VMs back to the queue.
    if (placementRules) {
      for (const v of placementRules.misplaced(dest)) {
        if (dest[v]! < 0) continue;
        unassign(v);
        queue.push(v);
      }
    }
    // Overloaded nodes shed their cheapest VMs first; VMs shed beyond need are taken back, largest first.
    const forbidden = new Int32Array(p.vmCount).fill(-1);
    for (let n = 0; n < p.nodeCount; n++) {
      if (!this.overloaded(load, n)) continue;
      const exact = this.cheapestShed(n, load, onNode[n]!);
      if (exact) {
        for (const v of exact) {
          unassign(v);
          forbidden[v] = n;
          queue.push(v);
        }
        continue;
      }
      const byMem = [...onNode[n]!].sort((a, b) => p.mem[a]! - p.mem[b]! || a - b);
      const shed: number[] = [];
      for (const v of byMem) {
        if (!this.overloaded(load, n)) break;
        if (p.pinned[v] || !this.relievesOverload(load, n, v)) continue;
        unassign(v);
        shed.push(v);
      }
      for (const v of shed.sort((a, b) => p.mem[b]! - p.mem[a]!)) {
        if (fits(p, load, n, v) && this.allows(v, n)) assign(v, n);
        else {
          forbidden[v] = n;
          queue.push(v);
        }
      }
      // Only pinned VMs (root, quarantine) are left and still too many: repair mode cannot help.
      if (this.overloaded(load, n)) return undefined;
    }
    // Local resumes are cheaper than remote ones: give images their own node first, largest first.
    resumes.sort((a, b) => p.mem[b]! - p.mem[a]! || a - b);
    for (const v of resumes) {
      const hostNode = p.host[v]!;
      if (!this.allows(v, hostNode)) {
        queue.push(v);
        continue;
      }
      if (!fits(p, load, hostNode, v)) {
        // Moving small VMs off the image's node can be cheaper than copying the image elsewhere.
        const room = this.roomOn(hostNode, v, load, onNode[hostNode]!, remoteResumeExtra(p, v));
        if (!room) {
          queue.push(v);
          continue;
        }
        for (const otherVm of room) {
          unassign(otherVm);
          forbidden[otherVm] = hostNode;
          queue.push(otherVm);
        }
      }
      if (this.remoteIsSooner(v, hostNode, load, nowUsage, dest)) {
        queue.push(v);
        continue;
      }
      assign(v, hostNode);
    }
    queue.sort((a, b) => this.size[b]! - this.size[a]! || a - b);
    index = new FitIndex(p, load, this.meanCapInv);
    let evictions = 0;
    const evictionLimit = 2 * p.vmCount + 16;
    for (let i = 0; i < queue.length; i++) {
      if (this.expired()) return undefined;
      const v = queue[i]!;
      let n = this.bestNode(v, load, nowUsage, forbidden[v]!, index);
      if (n < 0) {
        if (evictions > evictionLimit) return undefined;
        const room = this.cheapestRoom(v, load, onNode, forbidden[v]!);
        if (!room) return undefined;
        for (const otherVm of room.evict) {
          unassign(otherVm);
          forbidden[otherVm] = room.node;
          queue.push(otherVm);
          evictions++;
        }
        n = room.node;
      }
      assign(v, n);
    }
    // Rules the kept VMs still break (pinned VMs the repair could not move) leave it to the other phases.
    if (placementRules && placementRules.misplaced(dest, true).length > 0) return undefined;
    return dest;
  }

  /** Full repacking, first-fit decreasing with a preference for each VM's current node; pinned VMs first. */
  repack(fit: NodeFit): { ok: true; dest: Int32Array } | { ok: false; failedVm: number; load: Float64Array } {
    const p = this.p;
    this.fit = fit;
    const placementRules = this.rules?.placement();
    this.current = placementRules;
    const dest = new Int32Array(p.vmCount).fill(-1);
    const load = new Float64Array(p.nodeCount * this.dimCount);
    const nowUsage = this.nowUsage.slice();
    const order: number[] = [];
    for (let v = 0; v < p.vmCount; v++) if (mustRun(p, v)) order.push(v);
    order.sort((a, b) => p.pinned[b]! - p.pinned[a]! || this.size[b]! - this.size[a]! || a - b);
    for (const v of order) {
      if (this.expired()) return { ok: false, failedVm: v, load };
      const hostNode = p.host[v]!;
      const home = hostNode >= 0 && p.usable[hostNode] && fits(p, load, hostNode, v) && this.allows(v, hostNode);
      const n = home ? hostNode : this.bestNode(v, load, nowUsage, -1);
      if (n < 0) return { ok: false, failedVm: v, load };
      dest[v] = n;
      addDemand(p, load, n, v, 1);
      placementRules?.assign(v, n);
      if (n !== hostNode || !runsAtSource(p, v)) addDemand(p, nowUsage, n, v, 1);
    }
    return { ok: true, dest };
  }

  /**
   * Which VM to name when nothing fits: VMs already running are placed first (at home when they
   * fit), so the blame falls on the first VM the decision starts or resumes that finds no room.
   */
  blame(): { vm: number; load: Float64Array } | undefined {
    const p = this.p;
    const placementRules = this.rules?.placement();
    this.current = placementRules;
    const load = new Float64Array(p.nodeCount * this.dimCount);
    const order: number[] = [];
    for (let v = 0; v < p.vmCount; v++) if (mustRun(p, v)) order.push(v);
    const wasRunning = (v: number) => (runsAtSource(p, v) ? 0 : 1);
    order.sort((a, b) => wasRunning(a) - wasRunning(b) || this.size[b]! - this.size[a]! || a - b);
    for (const v of order) {
      const hostNode = p.host[v]!;
      const n =
        hostNode >= 0 && p.usable[hostNode] && fits(p, load, hostNode, v) && this.allows(v, hostNode)
          ? hostNode
          : this.bestNode(v, load, load, -1);
      if (n < 0) return { vm: v, load };
      addDemand(p, load, n, v, 1);
      placementRules?.assign(v, n);
    }
    return undefined;
  }

  /** The rules of the phase under way, if any constraint has placement rules. */
  private current: PlacementRules | undefined;
  /** How bestNode ranks the nodes that fit; repair starts with best fit (see NodeFit). */
  private fit: NodeFit = 'best';

  private allows(v: number, n: number): boolean {
    return this.current === undefined || this.current.allows(v, n);
  }

  /**
   * Whether resuming `v` elsewhere ends sooner than resuming it on its image's node `h`, which has
   * room in the target but not yet: the local resume waits for VMs leaving `h` (stops, suspends,
   * migrations already decided, each assumed to start at 0), a remote one on a node with room now
   * does not. A vjob unpauses when its last VM is restored, so one late VM delays all of them.
   */
  private remoteIsSooner(
    v: number,
    hostNode: number,
    load: Float64Array,
    nowUsage: Float64Array,
    dest: Int32Array,
  ): boolean {
    const p = this.p;
    const dimCount = this.dimCount;
    if (fits(p, nowUsage, hostNode, v)) return false;
    const leaving: [number, number][] = [];
    for (const otherVm of this.sourceOn[hostNode]!) {
      if (p.target[otherVm] === S.running && dest[otherVm] === hostNode) continue;
      const end =
        p.target[otherVm] === S.sleeping
          ? (p.source[otherVm] === S.paused ? 0 : actionDuration(p, 'pause', otherVm)) +
            actionDuration(p, 'suspend', otherVm)
          : p.target[otherVm] === S.running
            ? actionDuration(p, 'migrate', otherVm)
            : actionDuration(p, 'stop', otherVm);
      leaving.push([end, otherVm]);
    }
    leaving.sort((a, b) => a[0] - b[0]);
    const room = new Float64Array(dimCount);
    for (let d = 0; d < dimCount; d++) room[d] = nowUsage[hostNode * dimCount + d]!;
    let wait = Infinity;
    for (const [end, w] of leaving) {
      for (let d = 0; d < dimCount; d++) room[d] -= p.demand[w * dimCount + d]!;
      if (this.fitsIn(room, hostNode, v)) {
        wait = end;
        break;
      }
    }
    const local = wait + actionDuration(p, 'resume', v, false);
    const remote = actionDuration(p, 'resume', v, true);
    if (remote >= local) return false;
    for (let n = 0; n < p.nodeCount; n++) {
      if (n !== hostNode && p.usable[n] && fits(p, load, n, v) && fits(p, nowUsage, n, v) && this.allows(v, n))
        return true;
    }
    return false;
  }

  /**
   * The set of VMs to move off overloaded node `n` whose migrations cost the least, such that the
   * rest fits: exhaustive over the subsets of its movable VMs when it has at most
   * EXACT_SHED_LIMIT of them (smallest-first misses cheaper sets: one big-cpu VM can relieve a
   * node that two small ones together cost more to move), undefined beyond (the caller is greedy).
   */
  private cheapestShed(n: number, load: Float64Array, assigned: readonly number[]): number[] | undefined {
    const p = this.p;
    const dimCount = this.dimCount;
    const movable = assigned.filter((v) => !p.pinned[v]);
    const movableCount = movable.length;
    if (movableCount === 0 || movableCount > EXACT_SHED_LIMIT) return undefined;
    const excess = new Float64Array(dimCount);
    for (let d = 0; d < dimCount; d++) excess[d] = load[n * dimCount + d]! - p.capacity[n * dimCount + d]!;
    const migrationCost = movable.map((v) => actionDuration(p, 'migrate', v));
    const freed = new Float64Array(dimCount);
    let bestMask = -1;
    let bestCost = Infinity;
    let bestCount = Infinity;
    for (let mask = 1; mask < 1 << movableCount; mask++) {
      let subsetCost = 0;
      let count = 0;
      freed.fill(0);
      for (let i = 0; i < movableCount; i++) {
        if (!(mask & (1 << i))) continue;
        subsetCost += migrationCost[i]!;
        count++;
        for (let d = 0; d < dimCount; d++) freed[d] += p.demand[movable[i]! * dimCount + d]!;
      }
      if (subsetCost > bestCost || (subsetCost === bestCost && count >= bestCount)) continue;
      let relieved = true;
      for (let d = 0; d < dimCount && relieved; d++)
        if (excess[d]! > EPSILON && freed[d]! < excess[d]! - EPSILON) relieved = false;
      if (relieved) {
        bestMask = mask;
        bestCost = subsetCost;
        bestCount = count;
      }
    }
    if (bestMask < 0) return undefined;
    return movable.filter((_, i) => bestMask & (1 << i));
  }

  private overloaded(load: Float64Array, n: number): boolean {
    const offset = n * this.dimCount;
    for (let d = 0; d < this.dimCount; d++) if (load[offset + d]! > this.p.capacity[offset + d]! + EPSILON) return true;
    return false;
  }

  private relievesOverload(load: Float64Array, n: number, v: number): boolean {
    const offset = n * this.dimCount;
    for (let d = 0; d < this.dimCount; d++) {
      if (load[offset + d]! > this.p.capacity[offset + d]! + EPSILON && this.p.demand[v * this.dimCount + d]! > 0)
        return true;
    }
    return false;
  }

  /**
   * Best fit among the nodes where the VM fits in the target, preferring nodes where it also fits
   * right now: an action that need not wait for others to leave can start at time 0.
   */
  private bestNode(v: number, load: Float64Array, nowUsage: Float64Array, forbidden: number, index?: FitIndex): number {
    const p = this.p;
    const dimCount = this.dimCount;
    const aligned = this.fit === 'aligned';
    const candidates = p.pinned[v] ? undefined : this.current?.candidates(v);
    // Best fit over the whole cluster: the index walks the few nodes of about the VM's size.
    if (index && !aligned && !p.pinned[v] && !candidates)
      return index.bestFit(v, nowUsage, (n) => n !== forbidden && this.allows(v, n));
    let best = -1;
    let bestScore = Infinity;
    const consider = (n: number) => {
      if (!p.usable[n] || n === forbidden || !fits(p, load, n, v) || !this.allows(v, n)) return;
      let rank = 0;
      for (let d = 0; d < dimCount; d++) {
        const inv = this.meanCapInv[d]!;
        const free = (p.capacity[n * dimCount + d]! - load[n * dimCount + d]!) * inv;
        rank += aligned ? -p.demand[v * dimCount + d]! * inv * free : free - p.demand[v * dimCount + d]! * inv;
      }
      // Prefer nodes where it fits right now, and nodes that need no boot.
      const score = (fits(p, nowUsage, n, v) ? 0 : 1e9) + (p.online[n] ? 0 : 1e6) + rank;
      if (score < bestScore) {
        bestScore = score;
        best = n;
      }
    };
    if (p.pinned[v]) {
      const hostNode = p.host[v]!;
      if (hostNode >= 0) consider(hostNode);
      return best;
    }
    if (candidates) for (const n of candidates) consider(n);
    else for (let n = 0; n < p.nodeCount; n++) consider(n);
    return best;
  }

  /** VMs to move off `n` so that `v` fits there, cheapest first, if their migrations cost less than `budget`. */
  private roomOn(
    n: number,
    v: number,
    load: Float64Array,
    assigned: readonly number[],
    budget: number,
  ): number[] | undefined {
    const p = this.p;
    const dimCount = this.dimCount;
    const trial = new Float64Array(dimCount);
    for (let d = 0; d < dimCount; d++) trial[d] = load[n * dimCount + d]!;
    const evict: number[] = [];
    let cost = 0;
    const byCost = assigned
      .filter((otherVm) => runsAtSource(p, otherVm) && !p.pinned[otherVm])
      .sort((a, b) => p.mem[a]! - p.mem[b]! || a - b);
    for (const otherVm of byCost) {
      if (this.fitsIn(trial, n, v)) break;
      cost += actionDuration(p, 'migrate', otherVm);
      if (cost >= budget) return undefined;
      for (let d = 0; d < dimCount; d++) trial[d] -= p.demand[otherVm * dimCount + d]!;
      evict.push(otherVm);
    }
    return this.fitsIn(trial, n, v) ? evict : undefined;
  }

  /** The node where evicting the least memory of already assigned VMs makes room for `v`. */
  private cheapestRoom(
    v: number,
    load: Float64Array,
    onNode: number[][],
    forbidden: number,
  ): { node: number; evict: number[] } | undefined {
    const p = this.p;
    const dimCount = this.dimCount;
    let best: { node: number; evict: number[]; cost: number } | undefined;
    const trial = new Float64Array(dimCount);
    for (let n = 0; n < p.nodeCount; n++) {
      if (!p.usable[n] || n === forbidden || (p.pinned[v] && n !== p.host[v]) || !this.allows(v, n)) continue;
      let canFit = true;
      for (let d = 0; d < dimCount; d++)
        if (p.demand[v * dimCount + d]! > p.capacity[n * dimCount + d]! + EPSILON) canFit = false;
      if (!canFit) continue;
      for (let d = 0; d < dimCount; d++) trial[d] = load[n * dimCount + d]!;
      const evict: number[] = [];
      let cost = 0;
      const byMem = [...onNode[n]!].sort((a, b) => p.mem[a]! - p.mem[b]! || a - b);
      for (const otherVm of byMem) {
        if (this.fitsIn(trial, n, v)) break;
        if (p.pinned[otherVm]) continue;
        if (best && cost + p.mem[otherVm]! >= best.cost) break;
        for (let d = 0; d < dimCount; d++) trial[d] -= p.demand[otherVm * dimCount + d]!;
        evict.push(otherVm);
        cost += p.mem[otherVm]!;
      }
      if (this.fitsIn(trial, n, v) && (!best || cost < best.cost)) best = { node: n, evict, cost };
    }
    return best;
  }

  private fitsIn(trial: Float64Array, n: number, v: number): boolean {
    for (let d = 0; d < this.dimCount; d++) {
      if (trial[d]! + this.p.demand[v * this.dimCount + d]! > this.p.capacity[n * this.dimCount + d]! + EPSILON)
        return false;
    }
    return true;
  }
}

type ExactResult = { kind: 'found'; dest: Int32Array } | { kind: 'proved' } | { kind: 'budget' };

/**
 * Depth-first search over hosts for every VM that must run, largest first, current node first.
 * Empty nodes of identical capacity are interchangeable, so only the first of them is tried.
 */
export function exactPlacement(p: Problem, budget: number, rules?: Rules): ExactResult {
  const search = exactPlacements(p, budget, rules);
  const first = search.next();
  if (!first.done) return { kind: 'found', dest: first.value };
  return first.value === 'budget' ? { kind: 'budget' } : { kind: 'proved' };
}

/**
 * Other viable targets than the first placement, for when the planner cannot reach that one (a
 * deadlock no pivot breaks): the repacked placement, then the exact search's solutions in order.
 */
export function* alternativePlacements(p: Problem, options: PlacementOptions): Generator<Int32Array> {
  const rules = options.rules && !options.rules.empty ? options.rules : undefined;
  const ctx = new PlacementContext(p, rules);
  for (const fit of ['aligned', 'best'] as const) {
    const repacked = ctx.repack(fit);
    if (repacked.ok) yield repacked.dest;
  }
  yield* exactPlacements(p, options.exactBudget, rules);
}

/** Every solution of the exact search, in its order, until the budget runs out; returns why it stopped. */
function* exactPlacements(p: Problem, budget: number, rules?: Rules): Generator<Int32Array, 'proved' | 'budget'> {
  const placementRules = rules?.placement();
  const dimCount = p.dims.length;
  const order: number[] = [];
  for (let v = 0; v < p.vmCount; v++) if (mustRun(p, v)) order.push(v);
  const size = sizes(p);
  order.sort((a, b) => size[b]! - size[a]! || a - b);
  const load = new Float64Array(p.nodeCount * dimCount);
  const count = new Int32Array(p.nodeCount);
  const dest = new Int32Array(p.vmCount).fill(-1);
  const nodes: number[] = [];
  for (let n = 0; n < p.nodeCount; n++) if (p.usable[n]) nodes.push(n);
  const sameCapacity = (a: number, b: number) => {
    for (let d = 0; d < dimCount; d++) if (p.capacity[a * dimCount + d] !== p.capacity[b * dimCount + d]) return false;
    return true;
  };
  let visits = 0;
  let outOfBudget = false;
  function* search(i: number): Generator<Int32Array> {
    if (i === order.length) {
      yield dest.slice();
      return;
    }
    if (++visits > budget) {
      outOfBudget = true;
      return;
    }
    const v = order[i]!;
    const hostNode = p.host[v]!;
    const candidates = p.pinned[v]
      ? [hostNode]
      : hostNode >= 0 && p.usable[hostNode]
        ? [hostNode, ...nodes.filter((n) => n !== hostNode)]
        : nodes;
    const triedEmpty: number[] = [];
    for (const n of candidates) {
      if (outOfBudget) return;
      if (!fits(p, load, n, v) || (placementRules && !placementRules.allows(v, n))) continue;
      // Empty nodes of one capacity are interchangeable only when no constraint tells them apart.
      if (count[n] === 0 && !placementRules) {
        if (triedEmpty.some((emptiedNode) => sameCapacity(emptiedNode, n))) continue;
        triedEmpty.push(n);
      }
      dest[v] = n;
      addDemand(p, load, n, v, 1);
      placementRules?.assign(v, n);
      count[n]++;
      yield* search(i + 1);
      addDemand(p, load, n, v, -1);
      placementRules?.unassign(v, n);
      count[n]--;
      dest[v] = -1;
    }
  }
  yield* search(0);
  return outOfBudget ? 'budget' : 'proved';
}

/** Why `vm` finds no node: what it needs and the most any node has free, per dimension. */
function describeNoRoom(p: Problem, vm: number, load: Float64Array): string {
  const dimCount = p.dims.length;
  const v = p.configuration.vms[vm]!;
  const parts: string[] = [];
  const shortages: string[] = [];
  for (let d = 0; d < dimCount; d++) {
    const need = p.demand[vm * dimCount + d]!;
    if (need <= 0) continue;
    let bestFree = -Infinity;
    let bestNode = -1;
    for (let n = 0; n < p.nodeCount; n++) {
      if (!p.usable[n]) continue;
      const free = p.capacity[n * dimCount + d]! - load[n * dimCount + d]!;
      if (free > bestFree) {
        bestFree = free;
        bestNode = n;
      }
    }
    parts.push(`${p.dims[d]} ${fmt(need)}`);
    if (bestNode >= 0 && bestFree < need - EPSILON) {
      shortages.push(
        `${p.dims[d]} short by ${fmt(need - bestFree)} (most free: ${fmt(Math.max(0, bestFree))} on ${p.configuration.nodes[bestNode]!.id})`,
      );
    }
  }
  const detail = shortages.length > 0 ? shortages.join('; ') : `no single node has ${parts.join(' and ')} free at once`;
  return `vjob '${v.vjob}' cannot be placed: VM '${v.id}' needs ${parts.join(', ')} once the other running VMs are placed; ${detail}`;
}

/** What a remote resume of `v` costs beyond a local one. */
function remoteResumeExtra(p: Problem, v: number): number {
  return actionDuration(p, 'resume', v, true) - actionDuration(p, 'resume', v, false);
}
