import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as delay } from 'node:timers/promises';
import { JetStreamApiCodes } from '@nats-io/jetstream';
import { type KV, Kvm } from '@nats-io/kv';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../../../../test/helpers/wait-for.ts';
import { type NatsServer, startNatsServer } from '../cluster/nats-server.ts';
import {
  LEADER_KEY,
  type LeaderLease,
  LeaseError,
  type LeaseRecord,
  type LeaseState,
  leaderBucketOf,
  startLeaderLease,
} from './leader-lease.ts';
import { type Logger, silentLogger } from '@entropy/protocol';
import { connectNats, type NatsConnection } from './nats-connect.ts';

const LEASE_MS = 1000;
/** The brief's bound on a takeover after a crash: two lease periods, plus slack for a loaded machine's timers. */
const TAKEOVER_BOUND_MS = 2 * LEASE_MS + 250;
const REPO_ROOT = new URL('../../../../', import.meta.url).pathname;
const HOLDER_SCRIPT = join(REPO_ROOT, 'test/helpers/lease-holder.ts');

interface Candidate {
  readonly lease: LeaderLease;
  /** Every onChange, with its performance.now() time. */
  readonly events: { at: number; state: LeaseState }[];
  leadingAt(after?: number): number | undefined;
  steppedDownAt(after?: number): number | undefined;
}

let server: NatsServer;
let nc1: NatsConnection;
let nc2: NatsConnection;
let prefixes = 0;
const open: LeaderLease[] = [];
const children: ChildProcess[] = [];

const freshPrefix = () => `lease.t${++prefixes}`;

async function candidate(
  nc: NatsConnection,
  prefix: string,
  holder: string,
  logger: Logger = silentLogger,
): Promise<Candidate> {
  const lease = await startLeaderLease(nc, { prefix, holder, leaseMs: LEASE_MS, logger });
  open.push(lease);
  const events: Candidate['events'] = [];
  lease.onChange((state) => events.push({ at: performance.now(), state }));
  const firstAt = (leading: boolean, after = 0) => events.find((e) => e.state.leading === leading && e.at >= after)?.at;
  return { lease, events, leadingAt: (after) => firstAt(true, after), steppedDownAt: (after) => firstAt(false, after) };
}

/** A candidate in a child process (test/helpers/lease-holder.ts) that a test can kill -9. */
function holderProcess(url: string, prefix: string, holder: string) {
  const child = spawn(process.execPath, ['--import', 'tsx', HOLDER_SCRIPT, url, prefix, holder, String(LEASE_MS)], {
    cwd: REPO_ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  const states: LeaseState[] = [];
  let out = '';
  let err = '';
  child.stdout!.on('data', (d: Buffer) => {
    out += d.toString();
    const lines = out.split('\n');
    out = lines.pop()!;
    for (const l of lines) states.push(JSON.parse(l) as LeaseState);
  });
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  return {
    leading: () => waitFor(`${holder} to lead (stderr: ${err})`, () => states.find((s) => s.leading), 30_000),
    kill: () => child.kill('SIGKILL'),
  };
}

beforeAll(async () => {
  server = await startNatsServer({ jetstream: true });
  nc1 = await connectNats(server.url, 'lease-test-1');
  nc2 = await connectNats(server.url, 'lease-test-2');
});
afterEach(async () => {
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  await Promise.all(open.splice(0).map((l) => l.close()));
});
afterAll(async () => {
  await nc1?.close();
  await nc2?.close();
  await server?.stop();
});

describe('nats-server JetStream KV, as the lease relies on it', () => {
  it('removes a key no sooner than the max age after its write; create then succeeds, as after a delete or a purge, with ever larger revisions', async () => {
    const kv = await new Kvm(nc1).create('kv_ttl_check', { history: 1, ttl: LEASE_MS });
    const sentAt = performance.now();
    const r1 = await kv.create('leader', 'a');
    await expect(kv.create('leader', 'b')).rejects.toMatchObject({ code: JetStreamApiCodes.StreamWrongLastSequence });
    await waitFor('the key to expire', async () => (await kv.get('leader')) === null, 10_000);
    const goneAfter = performance.now() - sentAt;
    expect(goneAfter).toBeGreaterThanOrEqual(LEASE_MS);
    expect(goneAfter).toBeLessThan(1.5 * LEASE_MS);
    // The holder's compare-and-set on its revision fails once the key expired.
    await expect(kv.update('leader', 'x', r1)).rejects.toMatchObject({
      code: JetStreamApiCodes.StreamWrongLastSequence,
    });
    const r2 = await kv.create('leader', 'c');
    await kv.delete('leader');
    const r3 = await kv.create('leader', 'd');
    await kv.purge('leader');
    const r4 = await kv.create('leader', 'e');
    expect([r1 < r2, r2 < r3, r3 < r4]).toEqual([true, true, true]);
  });
});

describe('startLeaderLease', () => {
  it('a lone candidate leads at once, with a positive integer token stored in a bucket whose max age is the lease', async () => {
    const prefix = freshPrefix();
    const { lease } = await candidate(nc1, prefix, 'ctl-a');
    expect(lease.isLeader()).toBe(true);
    const token = lease.token()!;
    expect(Number.isInteger(token) && token > 0).toBe(true);
    expect(lease.current()).toEqual({ holder: 'ctl-a', token });
    const kv = await new Kvm(nc2).open(leaderBucketOf(prefix));
    const status = await kv.status();
    expect({ bucket: status.bucket, ttl: status.ttl, history: status.history, storage: status.storage }).toEqual({
      bucket: `${prefix.replace('.', '_')}_leader`,
      ttl: LEASE_MS,
      history: 1,
      storage: 'file',
    });
    // The acquiring write stores token 0 (its revision is the token); the first renewal stores the token itself.
    const record = await waitFor('a renewal', async () => {
      const r = (await kv.get(LEADER_KEY))?.json<LeaseRecord>();
      return r?.token === token ? r : undefined;
    });
    expect(record.holder).toBe('ctl-a');
    expect(record.renewedAt).toBeGreaterThan(record.acquiredAt);
  });

  it('of two candidates started at the same instant on separate connections, exactly one leads: 10 rounds of 10', async () => {
    let exactlyOne = 0;
    for (let round = 0; round < 10; round++) {
      const prefix = freshPrefix();
      const [a, b] = await Promise.all([candidate(nc1, prefix, 'ctl-a'), candidate(nc2, prefix, 'ctl-b')]);
      const leaders = [a, b].filter((c) => c.lease.isLeader());
      if (leaders.length === 1) {
        exactlyOne++;
        const [leader, other] = leaders[0] === a ? [a, b] : [b, a];
        await waitFor('the standby to read the leader', () => other.lease.current().token === leader.lease.token());
        expect(other.lease.current().holder).toBe(leader === a ? 'ctl-a' : 'ctl-b');
      }
      await Promise.all(open.splice(0).map((l) => l.close()));
    }
    expect(exactlyOne).toBe(10);
  });

  it('when the leader process is killed (-9), the standby leads within two lease periods, with a larger token', async () => {
    const takeovers: number[] = [];
    for (let round = 0; round < 3; round++) {
      const prefix = freshPrefix();
      const holder = holderProcess(server.url, prefix, 'ctl-child');
      const first = await holder.leading();
      const standby = await candidate(nc1, prefix, 'ctl-standby');
      expect(standby.lease.isLeader()).toBe(false);
      expect(standby.lease.current()).toEqual({ holder: 'ctl-child', token: first.token });
      // Kill at a different point of the renewal period each round.
      await delay(LEASE_MS / 2 + round * 110);
      const killedAt = performance.now();
      holder.kill();
      await waitFor('the standby to lead', () => standby.leadingAt(killedAt), 10_000);
      takeovers.push(standby.leadingAt(killedAt)! - killedAt);
      expect(standby.lease.token()).toBeGreaterThan(first.token!);
    }
    console.info(
      `takeover after kill -9 of the leader (lease ${LEASE_MS} ms): ${takeovers.map(Math.round).join(', ')} ms`,
    );
    for (const t of takeovers) expect(t).toBeLessThan(TAKEOVER_BOUND_MS);
  });

  it('a clean close steps down, then releases the key: the standby leads well within one lease period', async () => {
    const prefix = freshPrefix();
    const a = await candidate(nc1, prefix, 'ctl-a');
    const b = await candidate(nc2, prefix, 'ctl-b');
    expect([a.lease.isLeader(), b.lease.isLeader()]).toEqual([true, false]);
    const tokenA = a.lease.token()!;
    const closedAt = performance.now();
    await a.lease.close();
    expect(a.lease.isLeader()).toBe(false);
    await waitFor('the standby to lead', () => b.leadingAt(closedAt), 10_000);
    const handover = b.leadingAt(closedAt)! - closedAt;
    console.info(`handover on a clean close (lease ${LEASE_MS} ms): ${Math.round(handover)} ms`);
    expect(handover).toBeLessThan(LEASE_MS / 2);
    expect(a.steppedDownAt(closedAt)).toBeLessThanOrEqual(b.leadingAt(closedAt)!);
    expect(b.lease.token()).toBeGreaterThan(tokenA);
  });

  /**
   * A leader, then another client's `write` to its key: the loss must be reported sooner than the
   * 0.8-lease step-down of a leader that merely fails to renew, since the conflict itself is noticed.
   */
  async function leaderLosingTo(write: (kv: KV) => Promise<unknown>) {
    const prefix = freshPrefix();
    const a = await candidate(nc1, prefix, 'ctl-a');
    const tokenA = a.lease.token()!;
    const writtenAt = performance.now();
    await write(await new Kvm(nc2).open(leaderBucketOf(prefix)));
    const lostAt = await waitFor('the loss to be reported', () => a.steppedDownAt(writtenAt), 10_000);
    expect(lostAt - writtenAt).toBeLessThan(LEASE_MS / 2);
    return { a, tokenA, lostAt };
  }

  it('a leader whose key another client overwrites reports the loss within half a lease period, and leads again once that key expires', async () => {
    const { a, tokenA } = await leaderLosingTo((kv) =>
      kv.put(
        LEADER_KEY,
        JSON.stringify({ holder: 'intruder', token: 1, acquiredAt: 0, renewedAt: 0 } satisfies LeaseRecord),
      ),
    );
    expect([a.lease.isLeader(), a.lease.token()]).toEqual([false, undefined]);
    await waitFor('the intruder to be read', () => a.lease.current().holder === 'intruder');
    await waitFor('the intruder key to expire and a to lead again', () => a.lease.isLeader(), 10_000);
    expect(a.lease.token()).toBeGreaterThan(tokenA);
  });

  it('a leader whose key is deleted behind its back reports the loss within half a lease period, then acquires it anew', async () => {
    const { a, tokenA, lostAt } = await leaderLosingTo((kv) => kv.delete(LEADER_KEY));
    await waitFor('a to lead again', () => a.leadingAt(lostAt), 10_000);
    expect(a.lease.token()).toBeGreaterThan(tokenA);
  });

  it('a leader whose event loop was blocked for longer than the lease does not claim to lead when it runs again', async () => {
    const prefix = freshPrefix();
    const a = await candidate(nc1, prefix, 'ctl-a');
    const tokenA = a.lease.token()!;
    const until = performance.now() + 1.5 * LEASE_MS;
    while (performance.now() < until) {
      // busy: no timer, no renewal, no reply runs
    }
    expect([a.lease.isLeader(), a.lease.token()]).toEqual([false, undefined]);
    // The key expired at the server meanwhile, so the next lease is a new one.
    await waitFor('a to lead again', () => a.lease.isLeader(), 10_000);
    expect(a.lease.token()).toBeGreaterThan(tokenA);
  });

  it('after a nats-server restart (kill -9, same port and store), exactly one of two candidates leads, and never two at once', async () => {
    const first = await startNatsServer({ jetstream: true });
    const conns: NatsConnection[] = [];
    const warnings: string[] = [];
    const logger: Logger = { ...silentLogger, warn: (_o, msg) => warnings.push(msg ?? '') };
    let sampler: NodeJS.Timeout | undefined;
    try {
      conns.push(
        await connectNats(first.url, 'lease-restart-a', { reconnect: true }),
        await connectNats(first.url, 'lease-restart-b', { reconnect: true }),
      );
      const [a, b] = [
        await candidate(conns[0]!, 'restart', 'ctl-a', logger),
        await candidate(conns[1]!, 'restart', 'ctl-b', logger),
      ];
      const leaders = () => [a, b].filter((c) => c.lease.isLeader());
      expect(leaders()).toHaveLength(1);
      const tokenBefore = leaders()[0]!.lease.token()!;
      let overlaps = 0;
      sampler = setInterval(() => void (leaders().length > 1 && overlaps++), 10);

      const killedAt = performance.now();
      await first.kill();
      await delay(300);
      await first.restart();
      // The lease proven before the kill lasts at most 0.8 lease periods: look past it.
      await waitFor(
        'a leader after the restart',
        () => performance.now() > killedAt + LEASE_MS && leaders().length === 1,
        30_000,
      );
      const leader = leaders()[0]!;
      console.info(
        `after the server restart: ${leader === a ? 'ctl-a' : 'ctl-b'} leads, token ${tokenBefore} -> ${leader.lease.token()}, ${Math.round(performance.now() - killedAt)} ms after the kill`,
      );
      // It stays that way for two lease periods.
      const stableUntil = performance.now() + 2 * LEASE_MS;
      while (performance.now() < stableUntil) {
        expect(leaders()).toHaveLength(1);
        await delay(20);
      }
      expect(overlaps).toBe(0);
      expect(leaders()[0]!.lease.token()).toBeGreaterThanOrEqual(tokenBefore);
      // The outage was logged, not thrown.
      expect(warnings).toContain('leader lease: JetStream request failed; retrying next period');
    } finally {
      clearInterval(sampler);
      await Promise.all(open.splice(0).map((l) => l.close()));
      await Promise.all(conns.map((c) => c.close()));
      await first.stop();
    }
  });

  it('refuses a bad option with a LeaseError naming the field', async () => {
    const tries = [
      { field: 'leaseMs', opts: { prefix: 'p', holder: 'a', leaseMs: 10 } },
      { field: 'leaseMs', opts: { prefix: 'p', holder: 'a', leaseMs: 1500.5 } },
      { field: 'prefix', opts: { prefix: 'a b', holder: 'a' } },
      { field: 'holder', opts: { prefix: 'p', holder: '' } },
    ];
    for (const { field, opts } of tries) {
      const err = await startLeaderLease(nc1, { ...opts, logger: silentLogger }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(LeaseError);
      expect(err).toMatchObject({ code: 'ENTROPY_INVALID_LEASE_OPTIONS', context: { field } });
    }
  });

  it('refuses a bucket whose max age is not the lease period, naming the bucket', async () => {
    const prefix = freshPrefix();
    await candidate(nc1, prefix, 'ctl-a');
    const err = await startLeaderLease(nc2, {
      prefix,
      holder: 'ctl-b',
      leaseMs: 2 * LEASE_MS,
      logger: silentLogger,
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LeaseError);
    expect(err).toMatchObject({ code: 'ENTROPY_LEASE_BUCKET', context: { bucket: leaderBucketOf(prefix) } });
    expect((err as Error).message).toMatch(/expires keys after 1000 ms, not the lease period 2000 ms/);
  });

  it('without JetStream: a one-line LeaseError that says how to enable it', async () => {
    const plain = await startNatsServer();
    const pc = await connectNats(plain.url, 'lease-no-js');
    try {
      const err = await startLeaderLease(pc, { prefix: 'p', holder: 'a', logger: silentLogger }).catch(
        (e: unknown) => e,
      );
      expect(err).toMatchObject({ code: 'ENTROPY_LEASE_BUCKET', context: { bucket: 'p_leader' } });
      expect((err as Error).message).toMatch(/nats-server -js -sd DIR/);
      expect((err as Error).message).not.toContain('\n');
    } finally {
      await pc.close();
      await plain.stop();
    }
  });
});
