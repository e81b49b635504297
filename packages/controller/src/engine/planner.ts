import type { TaskRef } from '../constraints/face.ts';
import type { PlanActionType } from '../model/lifecycle.ts';
import type { ActionSpec } from './actions.ts';
import { MinHeap } from './heap.ts';
import { actionDuration, addDemand, fits, nodeActionDuration, S, sourceUsage, type Problem } from './problem.ts';
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

export type ScheduleResult = { readonly ok: true; readonly tasks: Task[] } | { readonly ok: false; readonly reason: string };

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
      return { type: t.type, vm: t.vm, from: p.source[t.vm] === S.running ? t.from : -1, to: -1 };
    default:
      return { type: t.type, vm: t.vm, from: -1, to: -1 };
  }
}

/**
 * List scheduling in simulated time. Actions that only free resources (stop, pause then suspend)
 * start at 0. An action that brings a VM onto a node starts at the first instant the node has room,
 * counting incoming VMs from their start and outgoing VMs until their end; among those waiting for
 * one node, the shortest goes first, which keeps the sum of completion times low.
 *
 * Each such action depends on every action that freed its node before it started. That makes the
 * schedule safe to run with other durations than estimated: whatever order the frees complete in,
 * an incoming VM starts only once at least the room it was planned with exists (the executor's ASAP
 * mode relies on this), and the barrier steps derived from these dependencies are viable as well.
 *
 * When nothing runs and migrations still wait for each other (a cycle), one of them, the smallest,
 * moves first to a third node with room now (the pivot), and from there to its destination.
 *
 * Continuous constraints gate every start through `rules.mayStart` (a spread VM waits until its
 * mate has left the node); a node that must come online boots at once and takes VMs from the end of
 * its boot; a node that must go offline shuts down once every VM and image has left it.
 */
export function schedule(p: Problem, specs: readonly ActionSpec[], rules?: ScheduleRules): ScheduleResult {
  const leaving = shutdownBlockers(p, specs);
  if (typeof leaving === 'string') return { ok: false, reason: leaving };
  const tasks: Task[] = [];
  const usage = sourceUsage(p);
  const ends = new MinHeap<number>();
  const pending: number[][] = Array.from({ length: p.nodeCount }, () => []);
  const endedFrees: number[][] = Array.from({ length: p.nodeCount }, () => []);
  const resumesLeft = new Map<number, number>();
  const resumesOf = new Map<number, number[]>();
  const unpauseSpecs = new Map<number, ActionSpec[]>();
  const suspendOf = new Map<number, ActionSpec>();
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
    tasks.push({ ...spec, start, end: start + spec.duration, deps, step });
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
    tasks.push({ ...spec, start: -1, end: -1, deps: chainDep >= 0 ? [chainDep] : [], step: 0 });
    const list = pending[spec.to]!;
    list.push(id);
    pendingCount++;
    return id;
  };
  const tryStart = (node: number, now: number) => {
    const list = pending[node]!;
    if (list.length === 0 || !booted[node]) return;
    list.sort((a, b) => tasks[a]!.duration - tasks[b]!.duration || tasks[a]!.vm - tasks[b]!.vm);
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
    if (s.type === 'suspend') suspendOf.set(s.vm, s);
    else if (s.type === 'unpause') {
      const j = p.vjobOf[s.vm]!;
      const list = unpauseSpecs.get(j);
      if (list) list.push(s);
      else unpauseSpecs.set(j, [s]);
    }
  }
  for (const s of specs) {
    if (s.type === 'stop' || s.type === 'pause') addTask(s, 0, []);
    else if (consumes(s)) {
      const id = addPending(s, -1);
      if (s.type === 'resume') {
        const j = p.vjobOf[s.vm]!;
        resumesLeft.set(j, (resumesLeft.get(j) ?? 0) + 1);
        const list = resumesOf.get(j);
        if (list) list.push(id);
        else resumesOf.set(j, [id]);
      }
    }
  }
  for (let n = 0; n < p.nodeCount; n++) {
    if (!p.online[n] && p.usable[n]) pendingBoots.push(n);
    if (p.online[n] && !p.usable[n] && leaving[n] === 0) shutDown(n, 0);
  }
  tryBoots(0);
  for (let n = 0; n < p.nodeCount; n++) tryStart(n, 0);

  const dirty = new Set<number>();
  let clock = 0;
  while (ends.size > 0 || pendingCount > 0 || pendingBoots.length > 0) {
    if (ends.size === 0) {
      if (pendingCount === 0) return { ok: false, reason: `${pendingBoots.length} nodes cannot boot: a continuous maxOnline constraint keeps them offline` };
      const pivot = choosePivot(p, tasks, pending, usage, booted, rules);
      if (!pivot) return { ok: false, reason: describeCycle(p, tasks, pending) };
      const { id, node } = pivot;
      const t = tasks[id]!;
      const list = pending[t.to]!;
      list.splice(list.indexOf(id), 1);
      pendingCount--;
      // The waiting migration becomes the first leg, to the pivot node, now; the second leg waits for it.
      pivotNext.set(id, { type: 'migrate', vm: t.vm, from: node, to: t.to, duration: t.duration });
      const deps = [...t.deps, ...endedFrees[node]!];
      let step = 0;
      for (const d of deps) if (tasks[d]!.step + 1 > step) step = tasks[d]!.step + 1;
      const duration = actionDuration(p, 'migrate', t.vm);
      tasks[id] = { ...t, to: node, duration, start: clock, end: clock + duration, deps, step };
      addDemand(p, usage, node, t.vm, 1);
      rules?.started(refOf(p, tasks[id]!));
      ends.push(clock + duration, id);
      continue;
    }
    const now = ends.peekKey()!;
    clock = now;
    while (ends.size > 0 && ends.peekKey() === now) {
      const id = ends.pop()!;
      const t = tasks[id]!;
      const freesNode = (t.type === 'stop' && p.source[t.vm] === S.running) || t.type === 'suspend' || t.type === 'migrate';
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
      } else if (t.type === 'resume') {
        const j = p.vjobOf[t.vm]!;
        const left = resumesLeft.get(j)! - 1;
        resumesLeft.set(j, left);
        if (left === 0) for (const u of unpauseSpecs.get(j) ?? []) addTask(u, now, [...resumesOf.get(j)!]);
      } else if (t.type === 'migrate') {
        const next = pivotNext.get(id);
        if (next) {
          addPending(next, id);
          dirty.add(next.to);
        }
      }
    }
    if (pendingBoots.length > 0) tryBoots(now);
    for (const n of dirty) tryStart(n, now);
    dirty.clear();
  }
  return { ok: true, tasks };
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
    if (h < 0 || !p.online[h] || p.usable[h] || (p.source[v] !== S.running && p.source[v] !== S.sleeping)) continue;
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
): { id: number; node: number } | undefined {
  const blocked = new Set<number>();
  for (let n = 0; n < p.nodeCount; n++) if (pending[n]!.length > 0) blocked.add(n);
  const candidates: number[] = [];
  for (const n of blocked) for (const id of pending[n]!) if (tasks[id]!.type === 'migrate') candidates.push(id);
  candidates.sort((a, b) => {
    const ha = blocked.has(tasks[a]!.from) ? 0 : 1;
    const hb = blocked.has(tasks[b]!.from) ? 0 : 1;
    return ha - hb || p.mem[tasks[a]!.vm]! - p.mem[tasks[b]!.vm]! || a - b;
  });
  const D = p.dims.length;
  for (const id of candidates) {
    const t = tasks[id]!;
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
      const score = (blocked.has(n) ? D + 1 : 0) + leftover;
      if (score < bestScore) {
        bestScore = score;
        best = n;
      }
    }
    if (best >= 0) return { id, node: best };
  }
  return undefined;
}

function describeCycle(p: Problem, tasks: readonly Task[], pending: readonly number[][]): string {
  const nodes: string[] = [];
  for (let n = 0; n < p.nodeCount; n++) if (pending[n]!.length > 0) nodes.push(p.configuration.nodes[n]!.id);
  const waiting = pending.reduce((sum, l) => sum + l.length, 0);
  return `${waiting} actions wait for each other on nodes ${nodes.slice(0, 10).join(', ')}${nodes.length > 10 ? ', ...' : ''} and no third node has room to break the migration cycle`;
}
