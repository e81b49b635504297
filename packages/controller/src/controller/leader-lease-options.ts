import { performance } from 'node:perf_hooks';
import { EntropyError, LeaseErrorCode, type Logger } from '@entropy/protocol';

export { LeaseErrorCode };

export const DEFAULT_LEASE_MS = 3000;
/** Below this the renewal period (a third of the lease) nears a JetStream round trip on a loaded machine. */
export const MIN_LEASE_MS = 100;

/**
 * A monotonic clock in epoch milliseconds: the step-down rule measures durations, and a wall clock
 * set back by NTP would stretch a lease the server has already let expire.
 */
export const monotonicNow = (): number => performance.timeOrigin + performance.now();

export interface LeaderLeaseOptions {
  /** The subject prefix the controllers serve; one lease per prefix. */
  readonly prefix: string;
  /** Who this candidate is, as other candidates will read it (a controller name). */
  readonly holder: string;
  /** The bucket's max age: a key not renewed for this long is gone (default 3000). */
  readonly leaseMs?: number;
  readonly logger: Logger;
  /** Milliseconds, for the stored timestamps and the step-down rule (default: monotonic, epoch-based). */
  readonly now?: () => number;
  /** The servers of a NATS cluster that keep the lease bucket (1 by default). */
  readonly replicas?: number;
}

export interface ParsedLeaseOptions {
  readonly prefix: string;
  readonly holder: string;
  readonly leaseMs: number;
  readonly bucket: string;
  readonly logger: Logger;
  readonly now: () => number;
  readonly replicas?: number;
}

export class LeaseError extends EntropyError {
  override name = 'LeaseError';
  declare readonly code: LeaseErrorCode;
  declare readonly context: { readonly field?: string; readonly bucket?: string };
  constructor(
    code: LeaseErrorCode,
    message: string,
    context: { readonly field?: string; readonly bucket?: string } = {},
    options?: { cause?: unknown },
  ) {
    super(code, message, { ...options, context });
  }
}

/** The lease bucket of a subject prefix: `entropy.test` -> `entropy_test_leader` (bucket names take no dots). */
export function leaderBucketOf(prefix: string): string {
  return `${prefix.replaceAll('.', '_')}_leader`;
}

/** JetStream's bucket name rule (nats.js kv `validateBucket`), checked here to name the option at fault. */
const BUCKET_NAME = /^[-\w]+$/;

export function parseLeaseOptions(opts: LeaderLeaseOptions): ParsedLeaseOptions {
  const invalid = (field: string, why: string) =>
    new LeaseError(LeaseErrorCode.InvalidOptions, `leader lease: ${field} ${why}`, { field });
  if (typeof opts.prefix !== 'string' || opts.prefix === '') throw invalid('prefix', 'must be a non-empty string');
  const bucket = leaderBucketOf(opts.prefix);
  if (!BUCKET_NAME.test(bucket))
    throw invalid(
      'prefix',
      `'${opts.prefix}' gives the bucket name '${bucket}', which JetStream refuses (letters, digits, - and _ only)`,
    );
  if (typeof opts.holder !== 'string' || opts.holder === '') throw invalid('holder', 'must be a non-empty string');
  const leaseMs = opts.leaseMs ?? DEFAULT_LEASE_MS;
  if (!Number.isInteger(leaseMs) || leaseMs < MIN_LEASE_MS)
    throw invalid('leaseMs', `must be an integer of at least ${MIN_LEASE_MS}, not ${leaseMs}`);
  return {
    prefix: opts.prefix,
    holder: opts.holder,
    leaseMs,
    bucket,
    logger: opts.logger,
    now: opts.now ?? monotonicNow,
    ...(opts.replicas ? { replicas: opts.replicas } : {}),
  };
}
