import type { TaskRef } from '../constraints/face.ts';
import type { PlanActionType } from '../model/lifecycle.ts';
import type { ActionSpec } from './actions.ts';
import { MinHeap } from './heap.ts';
import { LinkGate } from './link-gate.ts';
import {
  addDemand,
  fits,
  migrationDuration,
  nodeActionDuration,
  runsAtSource,
  S,
  sourceUsage,
  type Problem,
} from '../model/problem.ts';
import type { ScheduleRules } from './rules.ts';

/** A scheduled action: its spec plus start, end, the actions it waits for, and its barrier step. Node actions have vm -1. */
export interface Task {
  readonly type: PlanActionType;
  readonly vm: number;
  readonly from: number;
  readonly to: number;
  readonly duration: number;
  start: number;
  end: number;
  deps: number[];
  step: number;
}

/**
 * A task spelled out field by field: V8 11 builds `{ ...spec, start }`, a spread followed by new
 * properties, on a slow path (several µs an object), and a schedule makes one task per action.
 */
function taskOf(spec: ActionSpec, start: number, end: number, deps: number[], step: number): Task {
  return {
    type: spec.type,
    vm: spec.vm,
    from: spec.from,
    to: spec.to,
    duration: spec.duration,
    start,
    end,
    deps,
    step,
  };
}

/** A vjob's pause group: the pauses not yet ended, their ids, and the suspends of its VMs paused in the source, which wait for the group. */
interface PauseGroup {
  left: number;
  readonly ids: number[];
  readonly suspends: ActionSpec[];
}

/** A vjob's unpause group: its unpauses, and the resumes and migrations of paused VMs it waits for (how many are left, the ids of those known). */
interface UnpauseGroup {
  readonly unpauses: ActionSpec[];
  left: number;
  readonly after: number[];
}

export type ScheduleResult =
  | { readonly ok: true; readonly tasks: Task[] }
  | { readonly ok: false; readonly reason: string; readonly timedOut?: true };

/**
 * Which waiting action takes a node's room first. Shortest first keeps the sum of completion times
 * low and is tried first; it can starve an action whose leaving would unblock a chain of others (a
 * deadlock with no node free for a pivot), so on a deadlock the planner tries again with actions
 * that free a node others wait for first, then longest first, then a few seeded shuffles.
 */
export type StartOrder = 'shortest' | 'unblocking' | 'longest' | number;

/**
 * One way to schedule: a start order, and whether to break a cycle of blocked migrations as soon as
 * it forms (eager), while a third node still has room, rather than once nothing runs any more.
 */
export interface Attempt {
  readonly order: StartOrder;
  readonly eager: boolean;
}

/** The attempts in the order the context switch tries them; the first one that does not deadlock wins. */
export const START_ATTEMPTS: readonly Attempt[] = [
  { order: 'shortest', eager: false },
  { order: 'unblocking', eager: false },
  { order: 'shortest', eager: true },
  { order: 'unblocking', eager: true },
  { order: 'longest', eager: false },
  ...[1, 2, 3, 4].flatMap((seed) => [
    { order: seed, eager: false },
    { order: seed, eager: true },
  ]),
];

const consumes = (t: { type: PlanActionType }) => t.type === 'run' || t.type === 'resume' || t.type === 'migrate';

/** What a task means to the constraints: where its VM starts occupying, and where it stops. */
function refOf(p: Problem, t: { type: PlanActionType; vm: number; from: number; to: number }): TaskRef {
  switch (t.type) {
    case 'migrate':
      return { type: t.type, vm: t.vm, from: t.from, to: t.to };
    case 'run':
    case 'resume':
    case 'bootNode':
      return { type: t.type, vm: t.vm, from: -1, to: t.to };
    case 'suspend':
    case 'shutdownNode':
      return { type: t.type, vm: t.vm, from: t.from, to: -1 };
    case 'stop':
      return { type: t.type, vm: t.vm, from: runsAtSource(p, t.vm) ? t.from : -1, to: -1 };
    default:
      return { type: t.type, vm: t.vm, from: -1, to: -1 };
  }
}

/**
 * List scheduling in simulated time. Actions that only free resources (stop, pause then suspend)
 * start at 0; the VMs of a vjob found paused are saved once its pause group, if any, has ended. An
 * action that brings a VM onto a node starts at the first instant the node has room, counting
 * incoming VMs from their start and outgoing VMs until their end; among those waiting for one node,
 * the shortest goes first, which keeps the sum of completion times low.
 *
 * Each such action depends on every action that freed its node before it started. That makes the
 * schedule safe to run with other durations than estimated: whatever order the frees complete in,
 * an incoming VM starts only once at least the room it was planned with exists (the executor's ASAP
 * mode relies on this), and the barrier steps derived from these dependencies are viable as well.
 *
 * A vjob's unpause group starts once every resume of the vjob and every migration of its paused
 * VMs has ended (at 0 when there is none): the vjob runs again whole, on its final nodes.
 *
 * When nothing runs and migrations still wait for each other (a cycle), one of them, the smallest,
 * moves first to a third node with room now (the pivot), and from there to its destination.
 *
 * Continuous constraints gate every start through `rules.mayStart` (a spread VM waits until its
 * mate has left the node); a node that must come online boots at once and takes VMs from the end of
 * its boot; a node that must go offline shuts down once every VM and image has left it.
 *
 * With a network (BtrPlace's network view), a migration also waits until every link direction and
 * switch of its route has room for its bandwidth (solver/link-gate.ts).
 */
export function schedule(
  p: Problem,
  specs: readonly ActionSpec[],
  rules?: ScheduleRules,
  attempt: Attempt = START_ATTEMPTS[0]!,
  expired: () => boolean = () => false,
): ScheduleResult {
  const leaving = shutdownBlockers(p, specs);
  if (typeof leaving === 'string') return { ok: false, reason: leaving };
  return new ListScheduler(p, specs, rules, attempt, leaving).run(expired);
}

/**
 * One run of the list scheduling above, in simulated time: the tasks so far, what each node holds
 * and waits for, the vjobs' pause and unpause groups, the pivots. `run` seeds the actions that
 * start at once, then takes the task ends in time order, each end starting what it unblocks.
 */
class ListScheduler {
  private readonly tasks: Task[] = [];
  /** Each node's use, counting incoming VMs from their start and outgoing ones until their end. */
  private readonly usage: Float64Array;
  /** Task ids by end time. */
  private readonly ends = new MinHeap<number>();
  /** Per node: the ids of the actions waiting for room on it. */
  private readonly pending: number[][];
  private pendingCount = 0;
  /** Per node: the actions that freed room on it, so far (what starts there later depends on them). */
  private readonly endedFrees: number[][];
  /** Suspends that follow their VM's own pause. */
  private readonly suspendOf = new Map<number, ActionSpec>();
  private readonly pauseGroups = new Map<number, PauseGroup>();
  private readonly unpauseGroups = new Map<number, UnpauseGroup>();
  /** A pivot's first leg (by task id) and the second leg it leads to. */
  private readonly pivotNext = new Map<number, ActionSpec>();
  /** How many times each VM pivoted, and in all. */
  private readonly pivotsOf = new Map<number, number>();
  private pivots = 0;
  private readonly booted: Uint8Array;
  private readonly pendingBoots: number[] = [];
  /** Per node: actions that took a VM or an image off it (a shutdown waits for all of them). */
  private readonly departures: number[][];
  /** Nodes whose room changed at the current instant. */
  private readonly dirty = new Set<number>();
  /** The bandwidth migrations hold on the network, when the problem has one. */
  private readonly links: LinkGate | undefined;
  private clock = 0;

  constructor(
    private readonly p: Problem,
    private readonly specs: readonly ActionSpec[],
    private readonly rules: ScheduleRules | undefined,
    private readonly attempt: Attempt,
    /** Per node that must go offline: how many VMs and images must still leave it. */
    private readonly leaving: Int32Array,
  ) {
    this.usage = sourceUsage(p);
    this.pending = Array.from({ length: p.nodeCount }, () => []);
    this.endedFrees = Array.from({ length: p.nodeCount }, () => []);
    this.departures = Array.from({ length: p.nodeCount }, () => []);
    this.booted = Uint8Array.from(p.online);
    this.links = p.network ? new LinkGate(p) : undefined;
  }

  run(expired: () => boolean): ScheduleResult {
    const { p, ends, tasks } = this;
    this.seed();
    if (this.attempt.eager) this.breakCyclesEarly();
    for (let n = 0; n < p.nodeCount; n++) this.tryStart(n, 0);
    while (ends.size > 0 || this.pendingCount > 0 || this.pendingBoots.length > 0) {
      if (expired())
        return { ok: false, reason: 'the time limit passed before the plan was scheduled', timedOut: true };
      if (ends.size === 0) {
        if (this.pendingCount === 0)
          return {
            ok: false,
            reason: `${this.pendingBoots.length} nodes cannot boot: a continuous maxOnline constraint keeps them offline`,
          };
        // A VM pivots at most twice: pivots that only move the cycle around would never end.
        const pivot = this.pivotBudgetLeft()
          ? choosePivot(p, tasks, this.pending, this.usage, this.booted, this.rules, this.pivotsOf, this.links)
          : undefined;
        if (!pivot) return { ok: false, reason: describeCycle(p, tasks, this.pending) };
        this.pivotTo(pivot.id, pivot.node);
        continue;
      }
      const now = ends.peekKey()!;
      this.clock = now;
      while (ends.size > 0 && ends.peekKey() === now) this.ended(ends.pop()!, now);
      if (this.pendingBoots.length > 0) this.tryBoots(now);
      if (this.attempt.eager) this.breakCyclesEarly();
      for (const n of this.dirty) this.tryStart(n, now);
      this.dirty.clear();
    }
    return { ok: true, tasks };
  }

  /** The vjobs' groups, then what starts at 0: stops, pauses, saves of VMs found paused, unpause groups with nothing to wait for, boots and shutdowns. */
  private seed(): void {
    const { p, specs } = this;
    // Pauses of a vjob start together at 0; each VM's save follows its pause.
    for (const s of specs) {
      if (s.type === 'suspend' && p.source[s.vm] === S.running) this.suspendOf.set(s.vm, s);
      else if (s.type === 'pause') {
        const j = p.vjobOf[s.vm]!;
        if (!this.pauseGroups.has(j)) this.pauseGroups.set(j, { left: 0, ids: [], suspends: [] });
      } else if (s.type === 'unpause') {
        const j = p.vjobOf[s.vm]!;
        const group = this.unpauseGroups.get(j);
        if (group) group.unpauses.push(s);
        else this.unpauseGroups.set(j, { unpauses: [s], left: 0, after: [] });
      }
    }
    for (const s of specs) {
      if (s.type === 'stop') this.addTask(s, 0, []);
      else if (s.type === 'pause') {
        const group = this.pauseGroups.get(p.vjobOf[s.vm]!)!;
        group.left++;
        group.ids.push(this.addTask(s, 0, []));
      } else if (s.type === 'suspend' && p.source[s.vm] === S.paused) {
        const group = this.pauseGroups.get(p.vjobOf[s.vm]!);
        if (group) group.suspends.push(s);
        else this.addTask(s, 0, []);
      } else if (consumes(s)) {
        const id = this.addPending(s, -1);
        const group =
          s.type === 'resume' || p.source[s.vm] === S.paused ? this.unpauseGroups.get(p.vjobOf[s.vm]!)! : undefined;
        if (group) {
          group.left++;
          // A migration's id is known once its last leg ends (a pivot adds a leg).
          if (s.type === 'resume') group.after.push(id);
        }
      }
    }
    for (const group of this.unpauseGroups.values()) if (group.left === 0) this.releaseUnpauses(group, 0);
    for (let n = 0; n < p.nodeCount; n++) {
      if (!p.online[n] && p.usable[n]) this.pendingBoots.push(n);
      if (p.online[n] && !p.usable[n] && this.leaving[n] === 0) this.shutDown(n, 0);
    }
    this.tryBoots(0);
  }

  /** Task `id` ends at `now`: the room it frees, the groups it completes, the node it empties, the pivot leg it leads to. */
  private ended(id: number, now: number): void {
    const { p, dirty } = this;
    const t = this.tasks[id]!;
    const freesNode = (t.type === 'stop' && runsAtSource(p, t.vm)) || t.type === 'suspend' || t.type === 'migrate';
    if (freesNode) {
      addDemand(p, this.usage, t.from, t.vm, -1);
      this.endedFrees[t.from]!.push(id);
      dirty.add(t.from);
    }
    if (t.type === 'migrate') this.links?.end(id, t.from, t.to, dirty);
    this.rules?.ended(refOf(p, t), dirty);
    // A VM or an image leaves a node that must go offline: the last one to leave lets it shut down.
    const left = t.type === 'migrate' || t.type === 'stop' || (t.type === 'resume' && t.from !== t.to) ? t.from : -1;
    if (left >= 0 && this.leaving[left]! > 0) {
      this.departures[left]!.push(id);
      if (--this.leaving[left]! === 0) this.shutDown(left, now);
    }
    if (t.type === 'bootNode') {
      this.booted[t.to] = 1;
      this.endedFrees[t.to]!.push(id);
      dirty.add(t.to);
    } else if (t.type === 'pause') {
      const s = this.suspendOf.get(t.vm);
      if (s) this.addTask(s, now, [id]);
      const group = this.pauseGroups.get(p.vjobOf[t.vm]!)!;
      if (--group.left === 0) for (const w of group.suspends) this.addTask(w, now, [...group.ids]);
    } else if (t.type === 'resume') {
      const group = this.unpauseGroups.get(p.vjobOf[t.vm]!)!;
      if (--group.left === 0) this.releaseUnpauses(group, now);
    } else if (t.type === 'migrate') {
      const next = this.pivotNext.get(id);
      if (next) {
        this.addPending(next, id);
        dirty.add(next.to);
      } else if (p.source[t.vm] === S.paused) {
        const group = this.unpauseGroups.get(p.vjobOf[t.vm]!)!;
        group.after.push(id);
        if (--group.left === 0) this.releaseUnpauses(group, now);
      }
    }
  }

  private addTask(spec: ActionSpec, start: number, deps: number[]): number {
    const { tasks } = this;
    let step = 0;
    for (const d of deps) if (tasks[d]!.step + 1 > step) step = tasks[d]!.step + 1;
    const id = tasks.length;
    tasks.push(taskOf(spec, start, start + spec.duration, deps, step));
    if (consumes(spec)) addDemand(this.p, this.usage, spec.to, spec.vm, 1);
    this.rules?.started(refOf(this.p, spec));
    this.ends.push(start + spec.duration, id);
    return id;
  }

  private releaseUnpauses(group: UnpauseGroup, now: number): void {
    for (const u of group.unpauses) this.addTask(u, now, [...group.after]);
  }

  private shutDown(n: number, now: number): void {
    const spec: ActionSpec = {
      type: 'shutdownNode',
      vm: -1,
      from: n,
      to: -1,
      duration: nodeActionDuration(this.p, 'shutdownNode', n),
    };
    this.addTask(spec, now, [...this.departures[n]!]);
  }

  private tryBoots(now: number): void {
    const { pendingBoots } = this;
    for (let i = 0; i < pendingBoots.length; ) {
      const n = pendingBoots[i]!;
      const spec: ActionSpec = {
        type: 'bootNode',
        vm: -1,
        from: -1,
        to: n,
        duration: nodeActionDuration(this.p, 'bootNode', n),
      };
      if (this.rules && !this.rules.mayStart(refOf(this.p, spec))) {
        i++;
        continue;
      }
      pendingBoots.splice(i, 1);
      this.addTask(spec, now, []);
    }
  }

  /** An action that waits for room on its destination; `chainDep` is the pivot leg it follows, if any. */
  private addPending(spec: ActionSpec, chainDep: number): number {
    const id = this.tasks.length;
    this.tasks.push(taskOf(spec, -1, -1, chainDep >= 0 ? [chainDep] : [], 0));
    this.pending[spec.to]!.push(id);
    this.pendingCount++;
    return id;
  }

  /** Starts, in the attempt's order, the waiting actions that fit on `node` now. */
  private tryStart(node: number, now: number): void {
    const { p, tasks, rules } = this;
    const list = this.pending[node]!;
    if (list.length === 0 || !this.booted[node]) return;
    list.sort(comparator(tasks, this.pending, this.attempt.order));
    for (let i = 0; i < list.length; ) {
      const id = list[i]!;
      const t = tasks[id]!;
      if (
        !fits(p, this.usage, node, t.vm) ||
        (rules && !rules.mayStart(refOf(p, t))) ||
        (t.type === 'migrate' && this.links && !this.links.fits(t.from, node))
      ) {
        i++;
        continue;
      }
      list.splice(i, 1);
      this.pendingCount--;
      t.start = now;
      t.end = now + t.duration;
      t.deps = [...t.deps, ...this.endedFrees[node]!];
      if (t.type === 'migrate' && this.links)
        for (const d of this.links.start(t.from, node)) if (!t.deps.includes(d)) t.deps.push(d);
      for (const d of t.deps) if (tasks[d]!.step + 1 > t.step) t.step = tasks[d]!.step + 1;
      addDemand(p, this.usage, node, t.vm, 1);
      rules?.started(refOf(p, t));
      this.ends.push(t.end, id);
    }
  }

  /** The waiting migration `id` becomes its first leg, to `node`, now; the second leg waits for it. */
  private pivotTo(id: number, node: number): void {
    const { p, tasks, clock } = this;
    const t = tasks[id]!;
    this.pivotsOf.set(t.vm, (this.pivotsOf.get(t.vm) ?? 0) + 1);
    const list = this.pending[t.to]!;
    list.splice(list.indexOf(id), 1);
    this.pendingCount--;
    // Over a network the second leg's route, hence its duration, differs from the direct one.
    const second = this.links ? migrationDuration(p, t.vm, node, t.to) : t.duration;
    this.pivotNext.set(id, { type: 'migrate', vm: t.vm, from: node, to: t.to, duration: second });
    const deps = [...t.deps, ...this.endedFrees[node]!];
    if (this.links) for (const d of this.links.start(t.from, node)) if (!deps.includes(d)) deps.push(d);
    let step = 0;
    for (const d of deps) if (tasks[d]!.step + 1 > step) step = tasks[d]!.step + 1;
    const duration = migrationDuration(p, t.vm, t.from, node);
    tasks[id] = { ...t, to: node, duration, start: clock, end: clock + duration, deps, step };
    addDemand(p, this.usage, node, t.vm, 1);
    this.rules?.started(refOf(p, tasks[id]!));
    this.ends.push(clock + duration, id);
  }

  private readonly blocked = (id: number): boolean => {
    const t = this.tasks[id]!;
    return (
      !this.booted[t.to] ||
      !fits(this.p, this.usage, t.to, t.vm) ||
      (this.rules !== undefined && !this.rules.mayStart(refOf(this.p, t)))
    );
  };

  private pivotBudgetLeft(): boolean {
    return ++this.pivots <= MAX_PIVOTS_PER_VM * this.specs.length + 1;
  }

  /** Eager attempts: each cycle of blocked migrations pivots as soon as it forms, while a third node has room. */
  private breakCyclesEarly(): void {
    for (;;) {
      const id = blockedCycle(this.p, this.tasks, this.pending, this.pivotsOf, this.blocked);
      if (id === undefined || !this.pivotBudgetLeft()) return;
      const node = pivotNode(this.p, this.tasks[id]!, this.usage, this.booted, this.rules, this.pending, this.links);
      if (node < 0) return;
      this.pivotTo(id, node);
    }
  }
}

const MAX_PIVOTS_PER_VM = 2;

function comparator(
  tasks: readonly Task[],
  pending: readonly number[][],
  order: StartOrder,
): (a: number, b: number) => number {
  const shortest = (a: number, b: number) => tasks[a]!.duration - tasks[b]!.duration || tasks[a]!.vm - tasks[b]!.vm;
  if (order === 'shortest') return shortest;
  if (order === 'longest') return (a, b) => -shortest(a, b);
  if (order === 'unblocking') {
    const frees = (t: Task) => (t.type === 'migrate' && pending[t.from]!.length > 0 ? 0 : 1);
    return (a, b) => frees(tasks[a]!) - frees(tasks[b]!) || shortest(a, b);
  }
  // A seeded hash of the VM: a fixed, arbitrary order per seed.
  const key = (t: Task) => Math.imul((t.vm + 1) ^ (order * 0x9e3779b1), 0x85ebca6b) >>> 0;
  return (a, b) => key(tasks[a]!) - key(tasks[b]!) || shortest(a, b);
}

/**
 * Per node that must go offline, how many VMs and images must leave it first; or why it cannot
 * be emptied (a VM that stays, running or asleep, on it).
 */
function shutdownBlockers(p: Problem, specs: readonly ActionSpec[]): Int32Array | string {
  const leaving = new Int32Array(p.nodeCount);
  let any = false;
  for (let n = 0; n < p.nodeCount; n++) if (p.online[n] && !p.usable[n]) any = true;
  if (!any) return leaving;
  const leaves = new Uint8Array(p.vmCount);
  for (const s of specs)
    if (s.type === 'migrate' || s.type === 'stop' || (s.type === 'resume' && s.from !== s.to)) leaves[s.vm] = 1;
  for (let v = 0; v < p.vmCount; v++) {
    const h = p.host[v]!;
    if (h < 0 || !p.online[h] || p.usable[h] || (!runsAtSource(p, v) && p.source[v] !== S.sleeping)) continue;
    if (!leaves[v]) {
      const vm = p.configuration.vms[v]!;
      return `node '${p.configuration.nodes[h]!.id}' must go offline but VM '${vm.id}' (vjob '${vm.vjob}') would stay ${p.target[v] === S.sleeping ? 'asleep' : 'running'} on it`;
    }
    leaving[h]++;
  }
  return leaving;
}

/**
 * Picks the migration to move through a third node: among waiting migrations whose leaving would
 * free a node others wait for, the smallest one that fits somewhere now (best fit, avoiding nodes
 * with waiting actions).
 */
function choosePivot(
  p: Problem,
  tasks: readonly Task[],
  pending: readonly number[][],
  usage: Float64Array,
  booted: Uint8Array,
  rules: ScheduleRules | undefined,
  pivotsOf: ReadonlyMap<number, number>,
  links: LinkGate | undefined,
): { id: number; node: number } | undefined {
  const blocked = new Set<number>();
  for (let n = 0; n < p.nodeCount; n++) if (pending[n]!.length > 0) blocked.add(n);
  const candidates: number[] = [];
  for (const n of blocked)
    for (const id of pending[n]!)
      if (tasks[id]!.type === 'migrate' && (pivotsOf.get(tasks[id]!.vm) ?? 0) < MAX_PIVOTS_PER_VM) candidates.push(id);
  candidates.sort((a, b) => {
    const ha = blocked.has(tasks[a]!.from) ? 0 : 1;
    const hb = blocked.has(tasks[b]!.from) ? 0 : 1;
    return ha - hb || p.mem[tasks[a]!.vm]! - p.mem[tasks[b]!.vm]! || a - b;
  });
  for (const id of candidates) {
    const node = pivotNode(p, tasks[id]!, usage, booted, rules, pending, links);
    if (node >= 0) return { id, node };
  }
  return undefined;
}

/** Best fit among the nodes with room now for a pivot of `t`, avoiding nodes with waiting actions; -1 when none. */
function pivotNode(
  p: Problem,
  t: Task,
  usage: Float64Array,
  booted: Uint8Array,
  rules: ScheduleRules | undefined,
  pending: readonly number[][],
  links?: LinkGate,
): number {
  const D = p.dims.length;
  let best = -1;
  let bestScore = Infinity;
  for (let n = 0; n < p.nodeCount; n++) {
    if (!p.usable[n] || !booted[n] || n === t.from || n === t.to || !fits(p, usage, n, t.vm)) continue;
    if (rules && !rules.mayStart({ type: 'migrate', vm: t.vm, from: t.from, to: n })) continue;
    if (links && !links.fits(t.from, n)) continue;
    let leftover = 0;
    for (let d = 0; d < D; d++) {
      const cap = p.capacity[n * D + d]!;
      if (cap > 0) leftover += (cap - usage[n * D + d]! - p.demand[t.vm * D + d]!) / cap;
    }
    const score = (pending[n]!.length > 0 ? D + 1 : 0) + leftover;
    if (score < bestScore) {
      bestScore = score;
      best = n;
    }
  }
  return best;
}

/**
 * A waiting migration on a cycle of waiting migrations (each waits on a node that another of them
 * must leave first), the smallest of its cycle; undefined when there is none.
 */
function blockedCycle(
  p: Problem,
  tasks: readonly Task[],
  pending: readonly number[][],
  pivotsOf: ReadonlyMap<number, number>,
  blocked: (id: number) => boolean,
): number | undefined {
  const leaving = new Map<number, number[]>();
  for (let n = 0; n < p.nodeCount; n++) {
    for (const id of pending[n]!) {
      const t = tasks[id]!;
      if (t.type !== 'migrate' || !blocked(id)) continue;
      const list = leaving.get(t.from);
      if (list) list.push(id);
      else leaving.set(t.from, [id]);
    }
  }
  if (leaving.size === 0) return undefined;
  // Walk node to node along waiting migrations (from their source to their destination); a node seen twice closes a cycle.
  const state = new Map<number, 1 | 2>();
  const via = new Map<number, number>();
  for (const start of leaving.keys()) {
    if (state.has(start)) continue;
    const stack: number[] = [start];
    state.set(start, 1);
    while (stack.length > 0) {
      const n = stack[stack.length - 1]!;
      const out = (leaving.get(n) ?? []).map((id) => ({ id, to: tasks[id]!.to }));
      const open = out.find((o) => state.get(o.to) === 1);
      if (open) {
        // A cycle: the nodes on the stack from open.to to n, joined by `via`, plus open.id.
        const members: number[] = [open.id];
        for (let k = stack.length - 1; k > 0 && stack[k] !== open.to; k--) members.push(via.get(stack[k]!)!);
        const eligible = members.filter((id) => (pivotsOf.get(tasks[id]!.vm) ?? 0) < MAX_PIVOTS_PER_VM);
        if (eligible.length === 0) return undefined;
        return eligible.sort((a, b) => p.mem[tasks[a]!.vm]! - p.mem[tasks[b]!.vm]! || a - b)[0];
      }
      const fresh = out.find((o) => !state.has(o.to));
      if (fresh) {
        via.set(fresh.to, fresh.id);
        state.set(fresh.to, 1);
        stack.push(fresh.to);
      } else {
        state.set(n, 2);
        stack.pop();
      }
    }
  }
  return undefined;
}

function describeCycle(p: Problem, tasks: readonly Task[], pending: readonly number[][]): string {
  const nodes: string[] = [];
  for (let n = 0; n < p.nodeCount; n++) if (pending[n]!.length > 0) nodes.push(p.configuration.nodes[n]!.id);
  const waiting = pending.reduce((sum, l) => sum + l.length, 0);
  return `${waiting} actions wait for each other on nodes ${nodes.slice(0, 10).join(', ')}${nodes.length > 10 ? ', ...' : ''} and no third node has room to break the migration cycle`;
}
