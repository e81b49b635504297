import type { PlanActionType } from '../model/lifecycle.ts';
import { actionDuration, S, type Problem } from './problem.ts';

/** An action before scheduling: what happens to which VM, between which nodes (indexes, -1 for none). */
export interface ActionSpec {
  readonly type: PlanActionType;
  readonly vm: number;
  readonly from: number;
  readonly to: number;
  readonly duration: number;
}

/**
 * The actions that turn the source into the target: one per VM that changes, plus the pause before
 * a suspend and the unpause after a resume (the planner groups those per vjob). A VM observed
 * paused goes on from where it is: it is unpaused (after a migration, when it must move) to run,
 * suspended to sleep, stopped to end.
 */
export function inferActions(p: Problem, dest: Int32Array): ActionSpec[] {
  const out: ActionSpec[] = [];
  for (let v = 0; v < p.vmCount; v++) {
    const from = p.source[v]!;
    const to = p.target[v]!;
    const host = p.host[v]!;
    const holds = from === S.running || from === S.paused;
    if (holds && to === S.running) {
      if (dest[v] !== host) out.push({ type: 'migrate', vm: v, from: host, to: dest[v]!, duration: actionDuration(p, 'migrate', v) });
      if (from === S.paused) out.push({ type: 'unpause', vm: v, from: dest[v]!, to: -1, duration: actionDuration(p, 'unpause', v, false, dest[v]!) });
    } else if (holds && to === S.sleeping) {
      if (from === S.running) out.push({ type: 'pause', vm: v, from: host, to: -1, duration: actionDuration(p, 'pause', v) });
      out.push({ type: 'suspend', vm: v, from: host, to: -1, duration: actionDuration(p, 'suspend', v) });
    } else if (to === S.terminated && (holds || from === S.sleeping)) {
      out.push({ type: 'stop', vm: v, from: host, to: -1, duration: actionDuration(p, 'stop', v) });
    } else if (from === S.sleeping && to === S.running) {
      const remote = dest[v] !== host;
      out.push({ type: 'resume', vm: v, from: host, to: dest[v]!, duration: actionDuration(p, 'resume', v, remote, dest[v]!) });
      out.push({ type: 'unpause', vm: v, from: dest[v]!, to: -1, duration: actionDuration(p, 'unpause', v, false, dest[v]!) });
    } else if (from === S.waiting && to === S.running) {
      out.push({ type: 'run', vm: v, from: -1, to: dest[v]!, duration: actionDuration(p, 'run', v, false, dest[v]!) });
    }
  }
  return alignVjobGroups(p, out);
}

/** The pauses (and the unpauses) of one vjob happen as one: they all take the longest one's time. */
function alignVjobGroups(p: Problem, specs: ActionSpec[]): ActionSpec[] {
  const longest = new Map<string, number>();
  const key = (s: ActionSpec) => `${s.type}:${p.vjobOf[s.vm]}`;
  for (const s of specs) {
    if (s.type === 'pause' || s.type === 'unpause') longest.set(key(s), Math.max(longest.get(key(s)) ?? 0, s.duration));
  }
  // Field by field: V8 builds `{ ...s, duration }` on a slow path.
  return specs.map((s) => (s.type === 'pause' || s.type === 'unpause' ? { type: s.type, vm: s.vm, from: s.from, to: s.to, duration: longest.get(key(s))! } : s));
}
