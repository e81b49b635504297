/**
 * A leader lease in JetStream KV, so that two controllers on one subject prefix run as leader and
 * hot standby.
 *
 * - One bucket per prefix (`leaderBucketOf`), history 1, whose max age is the lease period: a key
 *   not rewritten for `leaseMs` is removed by the server. Key `leader`, value
 *   `{ holder, token, acquiredAt, renewedAt }`.
 * - **Acquire by create.** `kv.create` writes only if the key is absent, expired or deleted (a
 *   compare-and-set on "no live value"), so of two simultaneous candidates exactly one wins.
 * - **Token = revision.** The fencing token is the revision of the winning create. Revisions are
 *   stream sequences, which grow with every write to the bucket and survive expiry and a server
 *   restart, so a later leader always holds a larger token. The create cannot know its own
 *   revision: it stores `token: 0`, read as "the entry's revision"; renewals store the token.
 * - **Renew by compare-and-set.** Every `leaseMs / 3` the leader rewrites the key with
 *   `kv.update(key, value, lastRevision)`. A conflict means someone else wrote: the lease is lost
 *   at once. A standby reads the key every `leaseMs / 4` (and at once when it sees a delete on the
 *   key's subject) and creates it when it is gone.
 * - **Conservative step-down.** A write is stamped by the server after the client sent it, so the
 *   key lives at least `leaseMs` after the send. The leader counts its lease from the send of its
 *   last acknowledged write and steps down at 80% of `leaseMs`, before any other candidate can
 *   create the key. Both sides measure durations only, so clock offsets do not matter; clock rates
 *   and a 20% margin do. `isLeader()` checks the clock on every call, so a blocked event loop never
 *   leaves a stale "true" behind.
 * - A holder that stepped down keeps renewing its own revision: if that compare-and-set still
 *   succeeds nobody else can have acquired, and it leads again without waiting for the expiry.
 *
 * JetStream errors other than conflicts are logged and retried next period, never thrown from a timer.
 */
import { jetstream, JetStreamApiCodes, JetStreamApiError, StorageType } from '@nats-io/jetstream';
import { type KV, type KvEntry, Kvm, type KvStatus } from '@nats-io/kv';
import type { Msg, NatsConnection } from '@nats-io/transport-node';
import * as z from 'zod';
import {
  type LeaderLeaseOptions,
  LeaseError,
  LeaseErrorCode,
  type ParsedLeaseOptions,
  parseLeaseOptions,
} from './leader-lease-options.ts';

export {
  DEFAULT_LEASE_MS,
  LeaseError,
  LeaseErrorCode,
  leaderBucketOf,
  type LeaderLeaseOptions,
} from './leader-lease-options.ts';

export const LEADER_KEY = 'leader';
/** The share of the lease after which a leader that proved nothing newer stops leading. */
export const STEP_DOWN_FRACTION = 0.8;
/** The header nats.js kv marks deletes and purges with. */
const KV_OPERATION_HEADER = 'KV-Operation';

/** The value of the `leader` key. */
export interface LeaseRecord {
  readonly holder: string;
  /** The fencing token; 0 in the acquiring write itself, whose revision is the token. */
  readonly token: number;
  readonly acquiredAt: number;
  readonly renewedAt: number;
}

export interface LeaseState {
  readonly leading: boolean;
  /** The leader's fencing token and name: this instance's while it leads, else the last read. */
  readonly token?: number;
  readonly holder?: string;
}

export interface LeaseHolder {
  readonly holder?: string;
  readonly token?: number;
}

export interface LeaderLease {
  /** True while the lease is proven fresh; checks the clock, so it turns false the moment it lapses. */
  isLeader(): boolean;
  /** The fencing token while leading. */
  token(): number | undefined;
  /** Called when this instance starts or stops leading, and when a standby reads another leader or none; returns the unsubscribe. */
  onChange(cb: (state: LeaseState) => void): () => void;
  /** Who leads, as last read (or this instance while it leads). */
  current(): LeaseHolder;
  /** Stops; a leader steps down, then deletes its key (compare-and-set on its revision) so a standby takes over at once. */
  close(): Promise<void>;
}

const recordSchema = z.object({
  holder: z.string().min(1),
  token: z.number().int().min(0),
  acquiredAt: z.number().finite(),
  renewedAt: z.number().finite(),
});

const isCasConflict = (err: unknown) =>
  err instanceof JetStreamApiError &&
  (err.code === JetStreamApiCodes.StreamWrongLastSequence ||
    err.code === JetStreamApiCodes.StreamWrongLastSequenceUnknown);

const messageOf = (err: unknown) => (err instanceof Error ? err.message : String(err));

/** The token a record stands for: its own, or for the acquiring write, the entry's revision. */
const tokenOf = (record: LeaseRecord, revision: number) => (record.token > 0 ? record.token : revision);

function decodeRecord(data: Uint8Array): LeaseRecord | undefined {
  try {
    const parsed = recordSchema.safeParse(JSON.parse(new TextDecoder().decode(data)));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Opens the lease of `prefix` and makes a first attempt to acquire it, so a lone candidate leads
 * when this resolves. Throws a LeaseError when an option is invalid or the bucket is unusable.
 */
export async function startLeaderLease(nc: NatsConnection, options: LeaderLeaseOptions): Promise<LeaderLease> {
  const o = parseLeaseOptions(options);
  const { holder, leaseMs, bucket, logger, now } = o;
  const kv = await openLeaseBucket(nc, o);
  const stepDownMs = leaseMs * STEP_DOWN_FRACTION;
  const renewEveryMs = leaseMs / 3;
  const pollEveryMs = leaseMs / 4;

  /** Our last acquisition: its token tells our writes from others', also after a step-down. */
  let mine: { token: number; acquiredAt: number } | undefined;
  /** Our last acknowledged write and when it was sent; undefined once another write may have followed. */
  let held: { revision: number; sentAt: number } | undefined;
  let leading = false;
  let seen: LeaseHolder = {};
  let announced: LeaseState = { leading: false };
  let closed = false;
  let running: Promise<void> | undefined;
  let again = false;
  let turnTimer: NodeJS.Timeout | undefined;
  let watchdog: NodeJS.Timeout | undefined;
  let invalidRevision = 0;
  /** JetStream requests failed in a row. */
  let failures = 0;
  const listeners = new Set<(s: LeaseState) => void>();

  const isFresh = () => held !== undefined && now() - held.sentAt <= stepDownMs;

  /** Who leads as far as this instance knows; its own lease once it stopped leading is no one's. */
  const known = (): LeaseHolder =>
    leading && mine ? { holder, token: mine.token } : seen.holder === holder && seen.token === mine?.token ? {} : seen;

  function announce(): void {
    const state: LeaseState = { leading, ...known() };
    if (state.leading === announced.leading && state.token === announced.token && state.holder === announced.holder)
      return;
    announced = state;
    for (const cb of listeners) {
      try {
        cb(state);
      } catch (err) {
        logger.warn({ bucket, holder, err: messageOf(err) }, 'leader lease: an onChange callback threw');
      }
    }
  }

  /** Recomputes `leading` from the clock; the single place where leadership starts or ends. */
  function refresh(reason: string): void {
    const fresh = !closed && isFresh();
    if (fresh !== leading) {
      leading = fresh;
      const fields = { bucket, holder, token: mine?.token, reason };
      if (fresh) logger.info(fields, 'leader lease: leading');
      else if (closed) logger.info(fields, 'leader lease: stepped down');
      else logger.warn(fields, 'leader lease: stepped down');
    }
    clearTimeout(watchdog);
    if (leading && held)
      watchdog = setTimeout(
        () => refresh(`no write acknowledged within ${stepDownMs} ms`),
        held.sentAt + stepDownMs - now() + 1,
      );
    announce();
  }

  function wrote(revision: number, sentAt: number, reason: string): void {
    held = { revision, sentAt };
    refresh(reason);
  }

  function lost(reason: string): void {
    held = undefined;
    refresh(reason);
  }

  const encode = (token: number, acquiredAt: number, renewedAt: number) =>
    JSON.stringify({ holder, token, acquiredAt, renewedAt } satisfies LeaseRecord);

  async function renew(): Promise<void> {
    const { revision } = held!;
    const { token, acquiredAt } = mine!;
    const sentAt = now();
    try {
      wrote(await kv.update(LEADER_KEY, encode(token, acquiredAt, sentAt), revision), sentAt, 'renewed');
    } catch (err) {
      if (!isCasConflict(err)) throw err;
      lost(`renewal refused: the key changed after revision ${revision}`);
      // Read it at once: another leader to report, a free key to take, or our own write whose reply was lost.
      again = true;
    }
  }

  async function acquire(): Promise<void> {
    const entry = await kv.get(LEADER_KEY);
    if (entry && entry.operation === 'PUT') return observe(entry);
    seen = {};
    announce();
    const sentAt = now();
    let revision: number;
    try {
      revision = await kv.create(LEADER_KEY, encode(0, sentAt, sentAt));
    } catch (err) {
      if (!isCasConflict(err)) throw err;
      logger.debug({ bucket, holder }, 'leader lease: another candidate created the key first');
      again = true;
      return;
    }
    mine = { token: revision, acquiredAt: sentAt };
    seen = { holder, token: revision };
    wrote(revision, sentAt, 'acquired');
  }

  /** A live key: another leader's, or ours from before a step-down, which a compare-and-set may still renew. */
  async function observe(entry: KvEntry): Promise<void> {
    const record = decodeRecord(entry.value);
    if (!record) {
      if (entry.revision !== invalidRevision)
        logger.warn(
          { bucket, revision: entry.revision },
          'leader lease: unreadable value in the leader key; waiting for it to expire',
        );
      invalidRevision = entry.revision;
      seen = {};
      return announce();
    }
    seen = { holder: record.holder, token: tokenOf(record, entry.revision) };
    if (mine && record.holder === holder && seen.token === mine.token) {
      held = { revision: entry.revision, sentAt: Number.NEGATIVE_INFINITY };
      return renew();
    }
    announce();
  }

  function turn(): void {
    if (closed) return;
    if (running) {
      again = true;
      return;
    }
    clearTimeout(turnTimer);
    running = (held ? renew() : acquire())
      .then(() => {
        if (failures > 0) logger.info({ bucket, holder, failures }, 'leader lease: JetStream answers again');
        failures = 0;
      })
      .catch((err: unknown) => {
        // An outage fails every period: warn once per outage, the repeats go to debug.
        const fields = {
          bucket,
          holder,
          err: messageOf(err),
          code: err instanceof JetStreamApiError ? err.code : undefined,
        };
        if (failures++ === 0) logger.warn(fields, 'leader lease: JetStream request failed; retrying next period');
        else logger.debug(fields, 'leader lease: JetStream request failed again');
      })
      .finally(() => {
        running = undefined;
        if (closed) return;
        const next = again ? 0 : held ? renewEveryMs : pollEveryMs;
        again = false;
        turnTimer = setTimeout(turn, next);
      });
  }

  // Every write to the key is also a plain message on its subject: a standby acts on a delete at
  // once, and a holder re-checks its lease at once when someone else writes.
  const sub = nc.subscribe(`$KV.${bucket}.${LEADER_KEY}`, {
    callback: (err: Error | null, msg: Msg) => {
      if (err)
        return logger.warn({ bucket, err: err.message }, 'leader lease: cannot watch the leader key; polling only');
      const op = msg.headers?.get(KV_OPERATION_HEADER);
      const record = op ? undefined : decodeRecord(msg.data);
      const ours =
        record !== undefined && record.holder === holder && (record.token === 0 || record.token === mine?.token);
      if (held ? !ours : op === 'DEL' || op === 'PURGE') turn();
    },
  });

  // A connection closed under us ends the lease; there is nothing left to renew it with.
  void nc.closed().then(() => {
    if (closed) return;
    closed = true;
    clearTimeout(turnTimer);
    refresh('NATS connection closed');
  });

  turn();
  await running;

  function isLeader(): boolean {
    if (leading && !isFresh()) refresh(`no write acknowledged within ${stepDownMs} ms`);
    return leading;
  }

  return {
    isLeader,
    token: () => (isLeader() ? mine?.token : undefined),
    onChange(cb) {
      listeners.add(cb);
      return () => listeners.delete(cb);
    },
    current() {
      isLeader();
      return known();
    },
    async close() {
      if (closed) return;
      closed = true;
      clearTimeout(turnTimer);
      sub.unsubscribe();
      await running;
      const release = held;
      // Stop leading before the key goes, so this instance and the next leader never overlap.
      held = undefined;
      refresh('closed');
      if (release === undefined || nc.isClosed()) return;
      try {
        await kv.delete(LEADER_KEY, { previousSeq: release.revision });
        logger.info({ bucket, holder, token: mine?.token }, 'leader lease: released');
      } catch (err) {
        if (isCasConflict(err)) return;
        logger.warn(
          { bucket, holder, err: messageOf(err) },
          'leader lease: could not release the key; it expires within the lease period',
        );
      }
    },
  };
}

/**
 * Creates or opens the bucket and checks its max age: a bucket made with a shorter lease would let
 * the key expire while its holder still believes it leads. Requests on the returned KV time out
 * after a third of the lease, so a request lost in a server restart delays at most one renewal.
 */
async function openLeaseBucket(nc: NatsConnection, o: ParsedLeaseOptions): Promise<KV> {
  const { bucket, leaseMs } = o;
  let status: KvStatus;
  try {
    status = await (
      await new Kvm(nc).create(bucket, {
        history: 1,
        ttl: leaseMs,
        storage: StorageType.File,
        ...(o.replicas ? { replicas: o.replicas } : {}),
      })
    ).status();
  } catch (cause) {
    throw new LeaseError(
      LeaseErrorCode.Bucket,
      `leader lease bucket ${bucket} unavailable (${messageOf(cause)}); start nats-server with JetStream: nats-server -js -sd DIR`,
      { bucket },
      { cause },
    );
  }
  if (status.ttl !== leaseMs) {
    throw new LeaseError(
      LeaseErrorCode.Bucket,
      `leader lease bucket ${bucket} expires keys after ${status.ttl} ms, not the lease period ${leaseMs} ms: every controller on prefix ${o.prefix} must use the same lease period (or delete the bucket)`,
      { bucket },
    );
  }
  const js = jetstream(nc, { timeout: Math.max(1, Math.round(leaseMs / 3)) });
  return new Kvm(js).open(bucket, { allow_direct: status.streamInfo.config.allow_direct });
}
