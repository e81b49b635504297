import { type ActionType, actionPath, type LifecycleState } from '@entropy/protocol';
import type { PlanActionType } from '../model/lifecycle.ts';
import { actionDuration, migrationDuration, S, type Problem } from '../model/problem.ts';

/** An action before scheduling: what happens to which VM, between which nodes (indexes, -1 for none). */
export interface ActionSpec {
  readonly type: PlanActionType;
  readonly vm: number;
  readonly from: number;
  readonly to: number;
  readonly duration: number;
}

/** The states' codes (S) by name, and each pair's action path, read from the one transition table. */
const STATE_OF_CODE = (Object.keys(S) as LifecycleState[]).sort((a, b) => S[a] - S[b]);
const PATH_BY_CODE: readonly (readonly (readonly ActionType[] | undefined)[])[] = STATE_OF_CODE.map((from) =>
  STATE_OF_CODE.map((to) => actionPath(from, to)),
);

/**
 * The actions that turn the source into the target: each VM follows the transition table's path
 * from its state to its target (protocol's actionPath: a pause before a suspend, an unpause after a
 * resume, which the planner groups per vjob), and a VM that holds resources and must run elsewhere
 * migrates first. A VM observed paused goes on from where it is.
 */
export function inferActions(p: Problem, dest: Int32Array): ActionSpec[] {
  const out: ActionSpec[] = [];
  for (let v = 0; v < p.vmCount; v++) {
    const from = p.source[v]!;
    const to = p.target[v]!;
    const path = PATH_BY_CODE[from]![to];
    if (!path) continue;
    const host = p.host[v]!;
    // Where the VM is as its actions unfold: a migration or a resume takes it to its destination.
    let at = host;
    if ((from === S.running || from === S.paused) && to === S.running && dest[v] !== host) {
      out.push({ type: 'migrate', vm: v, from: host, to: dest[v]!, duration: migrationDuration(p, v, host, dest[v]!) });
      at = dest[v]!;
    }
    for (const type of path) {
      if (type === 'run') {
        out.push({ type, vm: v, from: -1, to: dest[v]!, duration: actionDuration(p, type, v, false, dest[v]!) });
        at = dest[v]!;
      } else if (type === 'resume') {
        out.push({
          type,
          vm: v,
          from: host,
          to: dest[v]!,
          duration: actionDuration(p, type, v, dest[v] !== host, dest[v]!),
        });
        at = dest[v]!;
      } else if (type === 'unpause') {
        out.push({ type, vm: v, from: at, to: -1, duration: actionDuration(p, type, v, false, at) });
      } else out.push({ type, vm: v, from: at, to: -1, duration: actionDuration(p, type, v) });
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
  return specs.map((s) =>
    s.type === 'pause' || s.type === 'unpause'
      ? { type: s.type, vm: s.vm, from: s.from, to: s.to, duration: longest.get(key(s))! }
      : s,
  );
}
