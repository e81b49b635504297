import { ActionErrorCode } from '@entropy/protocol';
import type { ExecutionOutcome } from '../executor/index.ts';
import type { Decision, VJobState } from '@entropy/engine';
import type { FailedTransition } from './failure-book.ts';
import type { ObservedVjob } from './vjob-states.ts';

/**
 * Final errors (the agent's `final`) that say the *request* cannot succeed, not the vjob's move: a
 * plan computed on a state that changed, an agent restarted mid-action, a deposed leader. The next
 * turn replans from what is observed; only the other final errors give the transition up at once.
 */
const REPLANNABLE = new Set<string>([
  ActionErrorCode.InvalidState,
  ActionErrorCode.Interrupted,
  ActionErrorCode.StaleLeader,
  ActionErrorCode.WrongNode,
  ActionErrorCode.ActionIdReused,
]);

/** Where a vjob goes back to when its move to `to` failed: the state it was in, or for a mixed one the other uniform state that needs no new room. */
export function fallbackOf(o: ObservedVjob, to: VJobState): VJobState {
  if (o.state !== 'mixed') return o.state;
  const other: VJobState = to === 'running' ? 'sleeping' : 'running';
  return o.reachable.includes(other) ? other : o.settlesTo;
}

/** The vjobs whose actions failed in a plan, with where each came from and was going. */
export function failedTransitions(
  outcome: ExecutionOutcome,
  decision: Decision,
  observed: ReadonlyMap<string, ObservedVjob>,
): FailedTransition[] {
  const byVjob = new Map<string, FailedTransition>();
  for (const f of outcome.failures) {
    const vjob = f.action.vjob;
    const o = observed.get(vjob);
    if (o === undefined || byVjob.has(vjob)) continue;
    const to = decision[vjob] ?? (o.state === 'mixed' ? o.settlesTo : o.state);
    const final = f.error.final === true && !REPLANNABLE.has(f.error.code);
    byVjob.set(vjob, {
      vjob,
      from: fallbackOf(o, to),
      to,
      final,
      error: `${f.action.type} ${f.action.vm} on ${f.node}: ${f.error.code} ${f.error.message}`,
    });
  }
  return [...byVjob.values()];
}

/**
 * One line per vjob the plan touched: where it was, where it was taken, what was done, and for a
 * failed one what failed and what happens next.
 */
export function describeVjobOutcomes(
  outcome: ExecutionOutcome,
  decision: Decision,
  observed: ReadonlyMap<string, ObservedVjob>,
  failed: readonly FailedTransition[],
  next: (vjob: string) => string,
): Record<string, string> {
  const done = new Map<string, Map<string, number>>();
  const count = (vjob: string, what: string) => {
    let m = done.get(vjob);
    if (!m) done.set(vjob, (m = new Map()));
    m.set(what, (m.get(what) ?? 0) + 1);
  };
  for (const c of outcome.completed) count(c.action.vjob, c.action.type);
  for (const u of outcome.undone) if (u.ok) count(u.vjob, 'undo-unpause');
  const vjobs = new Set([...done.keys(), ...outcome.notStarted.map((a) => a.vjob), ...failed.map((f) => f.vjob)]);
  const failedBy = new Map(failed.map((f) => [f.vjob, f]));
  const out: Record<string, string> = {};
  for (const vjob of [...vjobs].sort()) {
    const o = observed.get(vjob);
    const from = o?.state ?? '?';
    const to = decision[vjob] ?? (o && o.state !== 'mixed' ? o.state : (o?.settlesTo ?? '?'));
    const actions = [...(done.get(vjob) ?? [])].map(([t, n]) => `${n} ${t}`).join(', ') || 'no action';
    const f = failedBy.get(vjob);
    const left = outcome.notStarted.filter((a) => a.vjob === vjob).length;
    out[vjob] = f
      ? `${from} -> ${to}: FAILED ${f.error}; done: ${actions}${left ? `; ${left} not started` : ''}; ${next(vjob)}`
      : left > 0
        ? `${from} -> ${to}: stopped with ${left} action(s) not started (done: ${actions}); the next turn replans`
        : `${from} -> ${to}: done (${actions})`;
  }
  return out;
}
