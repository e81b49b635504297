import type { TaskRef } from '../constraints/face.ts';
import type { PlanActionType } from '../model/lifecycle.ts';
import type { ActionSpec } from './actions.ts';
import { MinHeap } from './heap.ts';
import { actionDuration, addDemand, fits, nodeActionDuration, runsAtSource, S, sourceUsage, type Problem } from '../model/problem.ts';
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
  return { type: spec.type, vm: spec.vm, from: spec.from, to: spec.to, duration: spec.duration, start, end, deps, step };
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

export type ScheduleResult = { readonly ok: true; readonly tasks: Task[] } | { readonly ok: false; readonly reason: string; readonly timedOut?: true };

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
  ...[1, 2, 3, 4].flatMap((seed) => [{ order: seed, eager: false }, { order: seed, eager: true }]),
];

const consumes = (t: { type: PlanActionType }) => t.type === 'run' || t.type === 'resume' || t.type === 'migrate';

/** What a task means to the constraints: where its VM starts occupying, and where it stops. */
function refOf(p: Problem, t: { type: PlanActionType; vm: number; from: number; to: number }): TaskRef {
  switch (t.type) {
    case 'migrate':
      return { type: t.type, vm: t.vm, from: t.from, to: t.to };
    case 'run': case 'resume': case 'bootNode':
      return { type: t.type, vm: t.vm, from: -1, to: t.to };
    case 'suspend': case 'shutdownNode':
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
 */
export function schedule(
  p: Problem,
  specs: readonly ActionSpec[],
  rules?: ScheduleRules,
  attempt: Attempt = START_ATTEMPTS[0]!,
  expired: () => boolean = () => false,
): ScheduleResult {
  const { order, eager } = attempt;
  const leaving = shutdownBlockers(p, specs);
  if (typeof leaving === 'string') return { ok: false, reason: leaving };
  const tasks: Task[] = [];
  const usage = sourceUsage(p);
  const ends = new MinHeap<number>();
  const pending: number[][] = Array.from({ length: p.nodeCount }, () => []);
  const endedFrees: number[][] = Array.from({ length: p.nodeCount }, () => []);
  /** Suspends that follow their VM's own pause. */
  const suspendOf = new Map<number, ActionSpec>();
  const pauseGroups = new Map<number, PauseGroup>();
  const unpauseGroups = new Map<number, UnpauseGroup>();
  const pivotNext = new Map<number, ActionSpec>();
  let pendingCount = 0;
  const booted = Uint8Array.from(p.online);
  const pendingBoots: number[] = [];
  /** Per node: actions that took a VM or an image off it (a shutdown waits for all of them). */
  const departures: number[][] = Array.from({ length: p.nodeCount }, () => []);

  const addTask = (spec: ActionSpec, start: number, deps: number[]): number => {
    let step = 0;
    for (const d of deps) if (tasks[d]!.step + 1 > step) step = tasks[d]!.step + 1;
    const id = tasks.length;
    tasks.push(taskOf(spec, start, start + spec.duration, deps, step));
    if (consumes(spec)) addDemand(p, usage, spec.to, spec.vm, 1);
    rules?.started(refOf(p, spec));
    ends.push(start + spec.duration, id);
    return id;
  };
  const shutDown = (n: number, now: number) => {
    const spec: ActionSpec = { type: 'shutdownNode', vm: -1, from: n, to: -1, duration: nodeActionDuration(p, 'shutdownNode', n) };
    addTask(spec, now, [...departures[n]!]);
  };
  const tryBoots = (now: number) => {
    for (let i = 0; i < pendingBoots.length; ) {
      const n = pendingBoots[i]!;
      const spec: ActionSpec = { type: 'bootNode', vm: -1, from: -1, to: n, duration: nodeActionDuration(p, 'bootNode', n) };
      if (rules && !rules.mayStart(refOf(p, spec))) {
        i++;
        continue;
      }
      pendingBoots.splice(i, 1);
      addTask(spec, now, []);
    }
  };
  const addPending = (spec: ActionSpec, chainDep: number) => {
    const id = tasks.length;
    tasks.push(taskOf(spec, -1, -1, chainDep >= 0 ? [chainDep] : [], 0));
    const list = pending[spec.to]!;
    list.push(id);
    pendingCount++;
    return id;
  };
  const tryStart = (node: number, now: number) => {
    const list = pending[node]!;
    if (list.length === 0 || !booted[node]) return;
    list.sort(comparator(tasks, pending, order));
    for (let i = 0; i < list.length; ) {
      const id = list[i]!;
      const t = tasks[id]!;
      if (!fits(p, usage, node, t.vm) || (rules && !rules.mayStart(refOf(p, t)))) {
        i++;
        continue;
      }
      list.splice(i, 1);
      pendingCount--;
      t.start = now;
      t.end = now + t.duration;
      t.deps = [...t.deps, ...endedFrees[node]!];
      for (const d of t.deps) if (tasks[d]!.step + 1 > t.step) t.step = tasks[d]!.step + 1;
      addDemand(p, usage, node, t.vm, 1);
      rules?.started(refOf(p, t));
      ends.push(t.end, id);
    }
  };

  // Pauses of a vjob start together at 0; each VM's save follows its pause.
  for (const s of specs) {
    if (s.type === 'suspend' && p.source[s.vm] === S.running) suspendOf.set(s.vm, s);
    else if (s.type === 'pause') {
      const j = p.vjobOf[s.vm]!;
      if (!pauseGroups.has(j)) pauseGroups.set(j, { left: 0, ids: [], suspends: [] });
    } else if (s.type === 'unpause') {
      const j = p.vjobOf[s.vm]!;
      const group = unpauseGroups.get(j);
      if (group) group.unpauses.push(s);
      else unpauseGroups.set(j, { unpauses: [s], left: 0, after: [] });
    }
  }
  for (const s of specs) {
    if (s.type === 'stop') addTask(s, 0, []);
    else if (s.type === 'pause') {
      const group = pauseGroups.get(p.vjobOf[s.vm]!)!;
      group.left++;
      group.ids.push(addTask(s, 0, []));
    } else if (s.type === 'suspend' && p.source[s.vm] === S.paused) {
      const group = pauseGroups.get(p.vjobOf[s.vm]!);
      if (group) group.suspends.push(s);
      else addTask(s, 0, []);
    } else if (consumes(s)) {
      const id = addPending(s, -1);
      const group = s.type === 'resume' || p.source[s.vm] === S.paused ? unpauseGroups.get(p.vjobOf[s.vm]!)! : undefined;
      if (group) {
        group.left++;
        // A migration's id is known once its last leg ends (a pivot adds a leg).
        if (s.type === 'resume') group.after.push(id);
      }
    }
  }
  const releaseUnpauses = (group: UnpauseGroup, now: number) => {
    for (const u of group.unpauses) addTask(u, now, [...group.after]);
  };
  for (const group of unpauseGroups.values()) if (group.left === 0) releaseUnpauses(group, 0);
  for (let n = 0; n < p.nodeCount; n++) {
    if (!p.online[n] && p.usable[n]) pendingBoots.push(n);
    if (p.online[n] && !p.usable[n] && leaving[n] === 0) shutDown(n, 0);
  }
  tryBoots(0);

  const dirty = new Set<number>();
  const pivotsOf = new Map<number, number>();
  let pivots = 0;
  let clock = 0;
  /** The waiting migration `id` becomes its first leg, to `node`, now; the second leg waits for it. */
  const pivotTo = (id: number, node: number) => {
    pivotsOf.set(tasks[id]!.vm, (pivotsOf.get(tasks[id]!.vm) ?? 0) + 1);
    const t = tasks[id]!;
    const list = pending[t.to]!;
    list.splice(list.indexOf(id), 1);
    pendingCount--;
    pivotNext.set(id, { type: 'migrate', vm: t.vm, from: node, to: t.to, duration: t.duration });
    const deps = [...t.deps, ...endedFrees[node]!];
    let step = 0;
    for (const d of deps) if (tasks[d]!.step + 1 > step) step = tasks[d]!.step + 1;
    const duration = actionDuration(p, 'migrate', t.vm, false, t.from);
    tasks[id] = { ...t, to: node, duration, start: clock, end: clock + duration, deps, step };
    addDemand(p, usage, node, t.vm, 1);
    rules?.started(refOf(p, tasks[id]!));
    ends.push(clock + duration, id);
  };
  const blocked = (id: number) => {
    const t = tasks[id]!;
    return !booted[t.to] || !fits(p, usage, t.to, t.vm) || (rules !== undefined && !rules.mayStart(refOf(p, t)));
  };
  const pivotBudgetLeft = () => ++pivots <= MAX_PIVOTS_PER_VM * specs.length + 1;
  const breakCyclesEarly = () => {
    for (;;) {
      const id = blockedCycle(p, tasks, pending, pivotsOf, blocked);
      if (id === undefined || !pivotBudgetLeft()) return;
      const node = pivotNode(p, tasks[id]!, usage, booted, rules, pending);
      if (node < 0) return;
      pivotTo(id, node);
    }
  };
  if (eager) breakCyclesEarly();
  for (let n = 0; n < p.nodeCount; n++) tryStart(n, 0);
  while (ends.size > 0 || pendingCount > 0 || pendingBoots.length > 0) {
    if (expired()) return { ok: false, reason: 'the time limit passed before the plan was scheduled', timedOut: true };
    if (ends.size === 0) {
      if (pendingCount === 0) return { ok: false, reason: `${pendingBoots.length} nodes cannot boot: a continuous maxOnline constraint keeps them offline` };
      // A VM pivots at most twice: pivots that only move the cycle around would never end.
      const pivot = pivotBudgetLeft() ? choosePivot(p, tasks, pending, usage, booted, rules, pivotsOf) : undefined;
      if (!pivot) return { ok: false, reason: describeCycle(p, tasks, pending) };
      pivotTo(pivot.id, pivot.node);
      continue;
    }
    const now = ends.peekKey()!;
    clock = now;
    while (ends.size > 0 && ends.peekKey() === now) {
      const id = ends.pop()!;
      const t = tasks[id]!;
      const freesNode = (t.type === 'stop' && runsAtSource(p, t.vm)) || t.type === 'suspend' || t.type === 'migrate';
      if (freesNode) {
        addDemand(p, usage, t.from, t.vm, -1);
        endedFrees[t.from]!.push(id);
        dirty.add(t.from);
      }
      rules?.ended(refOf(p, t), dirty);
      // A VM or an image leaves a node that must go offline: the last one to leave lets it shut down.
      const left = t.type === 'migrate' || t.type === 'stop' || (t.type === 'resume' && t.from !== t.to) ? t.from : -1;
      if (left >= 0 && leaving[left]! > 0) {
        departures[left]!.push(id);
        if (--leaving[left]! === 0) shutDown(left, now);
      }
      if (t.type === 'bootNode') {
        booted[t.to] = 1;
        endedFrees[t.to]!.push(id);
        dirty.add(t.to);
      } else if (t.type === 'pause') {
        const s = suspendOf.get(t.vm);
        if (s) addTask(s, now, [id]);
        const group = pauseGroups.get(p.vjobOf[t.vm]!)!;
        if (--group.left === 0) for (const w of group.suspends) addTask(w, now, [...group.ids]);
      } else if (t.type === 'resume') {
        const group = unpauseGroups.get(p.vjobOf[t.vm]!)!;
        if (--group.left === 0) releaseUnpauses(group, now);
      } else if (t.type === 'migrate') {
        const next = pivotNext.get(id);
        if (next) {
          addPending(next, id);
          dirty.add(next.to);
        } else if (p.source[t.vm] === S.paused) {
          const group = unpauseGroups.get(p.vjobOf[t.vm]!)!;
          group.after.push(id);
          if (--group.left === 0) releaseUnpauses(group, now);
        }
      }
    }
    if (pendingBoots.length > 0) tryBoots(now);
    if (eager) breakCyclesEarly();
    for (const n of dirty) tryStart(n, now);
    dirty.clear();
  }
  return { ok: true, tasks };
}

const MAX_PIVOTS_PER_VM = 2;

function comparator(tasks: readonly Task[], pending: readonly number[][], order: StartOrder): (a: number, b: number) => number {
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
  for (const s of specs) if (s.type === 'migrate' || s.type === 'stop' || (s.type === 'resume' && s.from !== s.to)) leaves[s.vm] = 1;
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
): { id: number; node: number } | undefined {
  const blocked = new Set<number>();
  for (let n = 0; n < p.nodeCount; n++) if (pending[n]!.length > 0) blocked.add(n);
  const candidates: number[] = [];
  for (const n of blocked) for (const id of pending[n]!) if (tasks[id]!.type === 'migrate' && (pivotsOf.get(tasks[id]!.vm) ?? 0) < MAX_PIVOTS_PER_VM) candidates.push(id);
  candidates.sort((a, b) => {
    const ha = blocked.has(tasks[a]!.from) ? 0 : 1;
    const hb = blocked.has(tasks[b]!.from) ? 0 : 1;
    return ha - hb || p.mem[tasks[a]!.vm]! - p.mem[tasks[b]!.vm]! || a - b;
  });
  for (const id of candidates) {
    const node = pivotNode(p, tasks[id]!, usage, booted, rules, pending);
    if (node >= 0) return { id, node };
  }
  return undefined;
}

/** Best fit among the nodes with room now for a pivot of `t`, avoiding nodes with waiting actions; -1 when none. */
function pivotNode(p: Problem, t: Task, usage: Float64Array, booted: Uint8Array, rules: ScheduleRules | undefined, pending: readonly number[][]): number {
  const D = p.dims.length;
  let best = -1;
  let bestScore = Infinity;
  for (let n = 0; n < p.nodeCount; n++) {
    if (!p.usable[n] || !booted[n] || n === t.from || n === t.to || !fits(p, usage, n, t.vm)) continue;
    if (rules && !rules.mayStart({ type: 'migrate', vm: t.vm, from: t.from, to: n })) continue;
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
