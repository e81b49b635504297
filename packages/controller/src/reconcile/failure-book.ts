import type { VJobState } from '@entropy/engine';

/**
 * What the loop remembers of failed vjob transitions: a vjob whose action failed goes back to the
 * uniform state it came from at once, is retried after a bounded backoff, and is given up after
 * `maxAttempts` failures or an error the hypervisor calls final. Pure values: the loop keeps the
 * current book and replaces it with what these functions return.
 */
export interface VjobFailure {
  readonly vjob: string;
  /** The uniform state the vjob was in when the failed plan started: where it goes back to. */
  readonly from: VJobState;
  /** The state the failed plan was taking it to: what a retry aims at again. */
  readonly to: VJobState;
  readonly attempts: number;
  /** An agent answered that retrying cannot help. */
  readonly final: boolean;
  /** The last failure, as `type vm on node: code message`. */
  readonly lastError: string;
  /** No retry before this instant. */
  readonly retryAt: number;
}

export type FailureBook = ReadonlyMap<string, VjobFailure>;

export interface RetryPolicy {
  /** Failures of one transition before it is given up (default 3). */
  readonly maxAttempts: number;
  /** Backoff before the first retry, doubled per failure up to `maxBackoffMs`. */
  readonly baseBackoffMs: number;
  readonly maxBackoffMs: number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = { maxAttempts: 3, baseBackoffMs: 1000, maxBackoffMs: 30_000 };

export interface FailedTransition {
  readonly vjob: string;
  readonly from: VJobState;
  readonly to: VJobState;
  readonly final: boolean;
  readonly error: string;
}

/** The book after a plan in which these vjobs' actions failed. A transition that failed before counts one more attempt. */
export function recordFailures(
  book: FailureBook,
  failed: readonly FailedTransition[],
  now: number,
  policy: RetryPolicy = DEFAULT_RETRY_POLICY,
): FailureBook {
  if (failed.length === 0) return book;
  const next = new Map(book);
  for (const f of failed) {
    const before = book.get(f.vjob);
    const same = before !== undefined && before.to === f.to;
    const attempts = (same ? before.attempts : 0) + 1;
    const backoff = Math.min(policy.maxBackoffMs, policy.baseBackoffMs * 2 ** (attempts - 1));
    next.set(f.vjob, {
      vjob: f.vjob,
      // A retry that fails again goes back where the first attempt came from.
      from: same ? before.from : f.from,
      to: f.to,
      attempts,
      final: f.final || (same && before.final),
      lastError: f.error,
      retryAt: now + backoff,
    });
  }
  return next;
}

/** What a failure means for the vjob this turn. */
export type FailureVerdict =
  | { readonly kind: 'none' }
  /** Waiting for the backoff, or given up: the vjob stays at (or goes back to) `from`. */
  | { readonly kind: 'back-off'; readonly state: VJobState; readonly until: number }
  | { readonly kind: 'given-up'; readonly state: VJobState }
  /** The backoff is over: the transition is tried again. */
  | { readonly kind: 'retry'; readonly attempt: number };

export function failureVerdict(
  f: VjobFailure | undefined,
  now: number,
  policy: RetryPolicy = DEFAULT_RETRY_POLICY,
): FailureVerdict {
  if (f === undefined) return { kind: 'none' };
  if (f.final || f.attempts >= policy.maxAttempts) return { kind: 'given-up', state: f.from };
  if (now < f.retryAt) return { kind: 'back-off', state: f.from, until: f.retryAt };
  return { kind: 'retry', attempt: f.attempts + 1 };
}

/**
 * Forgets the failures that no longer apply: the vjob reached the state it was failing to reach,
 * what is wanted of it changed, or it is neither observed nor wanted any more. A vjob out of sight
 * for a while (its node offline) keeps its record.
 */
export function settleFailures(
  book: FailureBook,
  observed: ReadonlyMap<string, VJobState | 'mixed'>,
  wanted: ReadonlyMap<string, VJobState>,
): FailureBook {
  let next: Map<string, VjobFailure> | undefined;
  for (const [vjob, f] of book) {
    const seen = observed.get(vjob);
    const want = wanted.get(vjob);
    const settled =
      seen === f.to || (want !== undefined && want !== f.to) || (seen === undefined && want === undefined);
    if (!settled) continue;
    next ??= new Map(book);
    next.delete(vjob);
  }
  return next ?? book;
}
