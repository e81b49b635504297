import type { Decision } from '../model/configuration.ts';
import type { FeasiblePlan } from '../model/plan.ts';

/**
 * When the engine finds no placement for a whole decision (a policy that packs on measured use
 * may start more than the peak demands allow), keep what the decision stops or suspends and start
 * only the first `k` of its starts, with `k` as large as the engine can place: a binary search on
 * `k`. `decisionWith(k)` builds the decision that keeps the first `k` starts. The next turn asks
 * again. Undefined when even starting none is infeasible.
 */
export function cautiousPlan(
  starts: number,
  decisionWith: (k: number) => Decision,
  attempt: (decision: Decision) => FeasiblePlan | undefined,
): { readonly plan: FeasiblePlan; readonly decision: Decision; readonly kept: number } | undefined {
  let best = tryWith(0);
  if (!best) return undefined;
  let lo = 0;
  let hi = starts - 1;
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    const found = tryWith(mid);
    if (found) {
      best = found;
      lo = mid;
    } else hi = mid - 1;
  }
  return best;

  function tryWith(k: number) {
    const d = decisionWith(k);
    const plan = attempt(d);
    return plan ? { plan, decision: d, kept: k } : undefined;
  }
}

/** `decisionWith` for cautiousPlan when a start left out simply keeps its vjob where it is. */
export function keepingFirstStarts(decision: Decision, starts: readonly string[]): (k: number) => Decision {
  return (k) => {
    const dropped = new Set(starts.slice(k));
    return Object.fromEntries(Object.entries(decision).filter(([j]) => !dropped.has(j)));
  };
}
