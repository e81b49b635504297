import type { Decision } from '../model/configuration.ts';
import type { FeasiblePlan } from '../model/plan.ts';

/**
 * When the engine finds no placement for a whole decision (a policy that packs on measured use
 * may start more than the peak demands allow), keep what the decision stops or suspends and start
 * only the first `k` of the vjobs it starts (in the given order), with `k` as large as the engine
 * can place: a binary search on `k`. The next turn asks the policy again. Undefined when even
 * starting none is infeasible.
 */
export function cautiousPlan(
  decision: Decision,
  starts: readonly string[],
  attempt: (decision: Decision) => FeasiblePlan | undefined,
): { readonly plan: FeasiblePlan; readonly decision: Decision } | undefined {
  const keeping = (k: number): Decision => {
    const dropped = new Set(starts.slice(k));
    return Object.fromEntries(Object.entries(decision).filter(([j]) => !dropped.has(j)));
  };
  let best = tryWith(0);
  if (!best) return undefined;
  let lo = 0;
  let hi = starts.length - 1;
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
    const d = keeping(k);
    const plan = attempt(d);
    return plan ? { plan, decision: d } : undefined;
  }
}
