import type { Configuration, Decision, FeasiblePlan } from '@entropy/engine';
import { firstDifference } from './plan-match.ts';
import type { ReviewedPlan } from './reviewed-plan.ts';

/** A plan the control loop proposes in `--approve` mode instead of executing it. */
export interface Proposal extends ReviewedPlan {
  readonly proposedAt: number;
}

export interface Rejected extends Proposal {
  readonly rejectedAt: number;
}

export type Offer =
  | { readonly kind: 'proposed' | 'kept'; readonly proposal: Proposal }
  | { readonly kind: 'rejected'; readonly rejected: Rejected };

const sameDecision = (a: Decision, b: Decision) => {
  const ka = Object.keys(a);
  return ka.length === Object.keys(b).length && ka.every((k) => a[k] === b[k]);
};

/** A plan still stands while what is wanted is the same and the cluster matches it for everything it touches. */
const stands = (p: ReviewedPlan, decision: Decision, live: Configuration) =>
  sameDecision(p.decision, decision) && firstDifference(p.configuration, live, p.plan) === undefined;

/**
 * The proposals of a controller in `--approve` mode, in memory (a controller that restarts or
 * hands over proposes again, under a new id). One proposal waits at a time, the loop's latest
 * plan: it stays while it stands, and a turn whose plan differs because what is wanted or observed
 * changed replaces it. A rejected plan is not proposed again while it stands.
 */
export class ProposalBook {
  private pending: Proposal | undefined;
  private rejectedPlans: Rejected[] = [];

  /** The turn's plan: the pending proposal when it still stands, a new one, or the rejected plan that still stands. */
  offer(plan: FeasiblePlan, decision: Decision, live: Configuration, now: number, newId: () => string): Offer {
    this.rejectedPlans = this.rejectedPlans.filter((r) => stands(r, decision, live));
    const rejected = this.rejectedPlans[0];
    if (rejected) {
      this.pending = undefined;
      return { kind: 'rejected', rejected };
    }
    if (this.pending && stands(this.pending, decision, live)) return { kind: 'kept', proposal: this.pending };
    this.pending = { id: newId(), plan, decision, configuration: live, proposedAt: now };
    return { kind: 'proposed', proposal: this.pending };
  }

  /** Nothing to propose (the cluster is where it is wanted): the pending proposal, if any, goes. */
  withdraw(): void {
    this.pending = undefined;
  }

  proposals(): readonly Proposal[] {
    return this.pending ? [this.pending] : [];
  }

  rejected(): readonly Rejected[] {
    return this.rejectedPlans;
  }

  /** The pending proposal of that id, removed from the book (to be executed), or undefined. */
  take(id: string): Proposal | undefined {
    if (this.pending?.id !== id) return undefined;
    const p = this.pending;
    this.pending = undefined;
    return p;
  }

  /** Rejects the pending proposal of that id; false when none has it. */
  reject(id: string, at: number): boolean {
    const p = this.take(id);
    if (!p) return false;
    this.rejectedPlans.push({ ...p, rejectedAt: at });
    return true;
  }

  wasRejected(id: string): boolean {
    return this.rejectedPlans.some((r) => r.id === id);
  }
}
