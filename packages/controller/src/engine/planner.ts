import type { ActionType } from '../model/lifecycle.ts';
import type { ActionSpec } from './actions.ts';
import { MinHeap } from './heap.ts';
import { actionDuration, addDemand, fits, S, sourceUsage, type Problem } from './problem.ts';

/** A scheduled action: its spec plus start, end, the actions it waits for, and its barrier step. */
export interface Task {
  readonly type: ActionType;
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

const consumes = (t: { type: ActionType }) => t.type === 'run' || t.type === 'resume' || t.type === 'migrate';

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
 */
export function schedule(p: Problem, specs: readonly ActionSpec[]): ScheduleResult {
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

  const addTask = (spec: ActionSpec, start: number, deps: number[]): number => {
    let step = 0;
    for (const d of deps) if (tasks[d]!.step + 1 > step) step = tasks[d]!.step + 1;
    const id = tasks.length;
    tasks.push({ ...spec, start, end: start + spec.duration, deps, step });
    if (consumes(spec)) addDemand(p, usage, spec.to, spec.vm, 1);
    ends.push(start + spec.duration, id);
    return id;
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
    if (list.length === 0) return;
    list.sort((a, b) => tasks[a]!.duration - tasks[b]!.duration || tasks[a]!.vm - tasks[b]!.vm);
    for (let i = 0; i < list.length; ) {
      const id = list[i]!;
      const t = tasks[id]!;
      if (!fits(p, usage, node, t.vm)) {
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
  for (let n = 0; n < p.nodeCount; n++) tryStart(n, 0);

  const dirty = new Set<number>();
  let clock = 0;
  while (ends.size > 0 || pendingCount > 0) {
    if (ends.size === 0) {
      const pivot = choosePivot(p, tasks, pending, usage);
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
      if (t.type === 'pause') {
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
    for (const n of dirty) tryStart(n, now);
    dirty.clear();
  }
  return { ok: true, tasks };
}

/**
 * Picks the migration to move through a third node: among waiting migrations whose leaving would
 * free a node others wait for, the smallest one that fits somewhere now (best fit, avoiding nodes
 * with waiting actions).
 */
function choosePivot(p: Problem, tasks: readonly Task[], pending: readonly number[][], usage: Float64Array): { id: number; node: number } | undefined {
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
      if (!p.online[n] || n === t.from || n === t.to || !fits(p, usage, n, t.vm)) continue;
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
