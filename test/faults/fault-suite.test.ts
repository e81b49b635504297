import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KvQueueStore, queueBucketOf } from '../../packages/controller/src/queue/kv-queue-store.ts';
import { mulberry32 } from '@entropy/engine';
import { FaultCluster } from './fault-cluster.ts';

/**
 * The fault-injection suite (`pnpm test:faults`): a real nats-server with JetStream, a leading and a
 * standby controller, 11 sim agents whose actions take real time, and a seeded stream of
 * submissions, cancels and applies. After each operation a fault strikes at a random instant: a
 * kill -9 of the leading controller, of an agent or of nats-server (each restarted), an agent
 * answering an error, an action hanging past its timeout. After each fault the suite waits until
 * the cluster is quiet and checks, from the agents' own reports and logs: no vjob lost from the
 * queue, no vjob with VMs in different states, no action executed twice, every vjob in its wanted state.
 */

const SEED = Number(process.env.ENTROPY_FAULTS_SEED ?? 20261205);
const BUDGET_MS = Number(process.env.ENTROPY_FAULTS_BUDGET_MS ?? 150_000);
const RECOVERY_LIMIT_MS = 120_000;
const PERIOD_MS = 300;
const NODES = Array.from({ length: 11 }, (_, i) => `w${i + 1}`);
const FAULT_KINDS = ['controller-kill', 'agent-kill', 'nats-kill', 'agent-error', 'agent-hang'] as const;
type FaultKind = (typeof FAULT_KINDS)[number];
const ACTION_TYPES = ['run', 'pause', 'suspend', 'resume', 'unpause', 'migrate', 'stop'] as const;

type Wanted = 'running' | 'sleeping' | 'terminated';
interface VjobModel {
  readonly id: string;
  readonly owner: 'policy' | 'operator';
  readonly vms: readonly { readonly id: string; readonly cpu: number; readonly mem: number }[];
  wanted: Wanted;
}

interface Tally {
  rounds: number;
  faults: Record<FaultKind, number>;
  recovered: number;
  lost: number;
  halfPaused: number;
  duplicated: number;
  notReached: number;
  recoveryMs: number[];
  operations: Record<string, number>;
}

describe('fault injection: kill -9 of any process, failed and hanging actions, while vjobs come and go', () => {
  const dir = mkdtempSync(join(tmpdir(), 'entropy-faults-'));
  const prefix = 'fx';
  const rng = mulberry32(SEED);
  const cluster = new FaultCluster({
    dir,
    prefix,
    nodes: NODES,
    capacity: 'cpu=4,mem=4096',
    statusPeriodMs: PERIOD_MS,
    speed: 10,
    leaseMs: 1500,
    controllers: 2,
  });
  const model = new Map<string, VjobModel>();
  const tally: Tally = {
    rounds: 0,
    faults: Object.fromEntries(FAULT_KINDS.map((k) => [k, 0])) as Record<FaultKind, number>,
    recovered: 0,
    lost: 0,
    halfPaused: 0,
    duplicated: 0,
    notReached: 0,
    recoveryMs: [],
    operations: {},
  };
  let serial = 0;
  const problems: string[] = [];

  beforeAll(async () => {
    await cluster.start();
    await waitQuiet(60_000);
  }, 120_000);

  afterAll(async () => {
    await cluster.stop();
    if (problems.length === 0 && !process.env.ENTROPY_FAULTS_KEEP) rmSync(dir, { recursive: true, force: true });
    else console.log(`fault suite files kept in ${dir}`);
  });

  /** The agents' reports, read against the model: undefined when the cluster is quiet and every vjob is where it is wanted. */
  async function unsettled(): Promise<string | undefined> {
    const st = await cluster.status();
    if (!st) return 'no controller answers';
    if (st.running) return `plan ${st.running} running`;
    for (const node of NODES) {
      const r = cluster.reports.latest.get(node);
      if (!r || Date.now() - r.at > 3 * PERIOD_MS) return `${node} silent`;
      if (r.status.inFlight > 0) return `${node} has ${r.status.inFlight} action(s) in flight`;
    }
    const vms = cluster.reports.vms();
    for (const v of model.values()) {
      const states = v.vms.map((vm) => vms.get(vm.id)?.state ?? 'absent');
      const want = v.wanted === 'terminated' ? 'absent' : v.wanted;
      if (states.some((s) => s !== want)) return `vjob ${v.id} wants ${v.wanted}, its VMs are ${summarize(states)}`;
    }
    return undefined;
  }

  /** Vjobs whose VMs the agents report in different states, or paused. */
  function mixedVjobs(): string[] {
    const vms = cluster.reports.vms();
    const out: string[] = [];
    for (const v of model.values()) {
      const states = v.vms.map((vm) => vms.get(vm.id)?.state ?? 'absent');
      if (new Set(states).size > 1 || states.includes('paused')) out.push(`${v.id} (${summarize(states)})`);
    }
    return out;
  }

  /** Waits until the cluster is settled twice in a row, a status period apart; the time it took, or undefined past the limit. */
  async function waitQuiet(limitMs = RECOVERY_LIMIT_MS): Promise<{ settledAt?: number; last?: string }> {
    const t0 = Date.now();
    let last: string | undefined;
    let settledSince: number | undefined;
    while (Date.now() - t0 < limitMs) {
      last = await unsettled();
      if (last === undefined) {
        settledSince ??= Date.now();
        if (Date.now() - settledSince >= 2 * PERIOD_MS) return { settledAt: settledSince };
      } else settledSince = undefined;
      await delay(100);
    }
    return { ...(last !== undefined ? { last } : {}) };
  }

  async function untilAccepted<T>(
    what: string,
    attempt: () => Promise<T | undefined>,
    limitMs = 30_000,
  ): Promise<T | undefined> {
    const deadline = Date.now() + limitMs;
    while (Date.now() < deadline) {
      const r = await attempt();
      if (r !== undefined) return r;
      await delay(200);
    }
    problems.push(`${what}: not accepted within ${limitMs} ms`);
    return undefined;
  }

  const activeCpu = () =>
    [...model.values()]
      .filter((v) => v.wanted !== 'terminated')
      .reduce((s, v) => s + v.vms.reduce((c, vm) => c + vm.cpu, 0), 0);

  function newVms(id: string) {
    return Array.from({ length: rng.int(2, 6) }, (_, i) => ({
      id: `${id}-vm${i + 1}`,
      cpu: 1,
      mem: 128 * rng.int(2, 6),
    }));
  }

  async function submit(): Promise<void> {
    const id = `s${++serial}`;
    const vms = newVms(id);
    const ok = await untilAccepted(`submit ${id}`, async () => {
      const r = await cluster.control(
        'submit',
        'submitRequest',
        { vjob: { id, priority: 0, vms: vms.map((vm) => ({ id: vm.id, demand: { cpu: vm.cpu, mem: vm.mem } })) } },
        'submitReply',
      );
      return r?.ok ? true : r && !r.ok && r.error.code === 'ENTROPY_CONFLICT' ? true : undefined;
    });
    if (ok) model.set(id, { id, owner: 'policy', vms, wanted: 'running' });
  }

  async function apply(what: string, decision: Record<string, Wanted>, register?: VjobModel): Promise<boolean> {
    const request = {
      planId: `fx-${++serial}`,
      decision,
      ...(register
        ? {
            vjobs: [{ id: register.id, priority: 0, submittedAt: Date.now() }],
            vms: register.vms.map((vm) => ({
              id: vm.id,
              vjob: register.id,
              demand: { cpu: vm.cpu, mem: vm.mem },
              state: 'waiting' as const,
            })),
          }
        : {}),
    };
    const r = await untilAccepted(
      what,
      async () => {
        const reply = await cluster.control(
          'apply',
          'applyRequest',
          { ...request, planId: `fx-${++serial}` },
          'applyReply',
          30_000,
        );
        if (reply?.ok) return true;
        // Busy (a plan runs) or no leader yet: the operator tries again.
        return undefined;
      },
      20_000,
    );
    return r === true;
  }

  async function operation(): Promise<string> {
    const live = [...model.values()].filter((v) => v.wanted !== 'terminated');
    const policy = live.filter((v) => v.owner === 'policy');
    const operator = live.filter((v) => v.owner === 'operator');
    const kinds = ['submit', 'register', 'flip', 'cancel', 'bounce'] as const;
    const weights = [
      activeCpu() < 26 ? 3 : 0,
      activeCpu() < 26 ? 2 : 0,
      operator.length > 0 ? 3 : 0,
      live.length > 3 ? 2 : 0,
      policy.length > 0 ? 2 : 0,
    ];
    const kind = rng.weighted(kinds, weights);
    tally.operations[kind] = (tally.operations[kind] ?? 0) + 1;
    if (kind === 'submit') await submit();
    else if (kind === 'register') {
      const id = `o${++serial}`;
      const v: VjobModel = { id, owner: 'operator', vms: newVms(id), wanted: 'running' };
      if (await apply(`apply ${id}=running`, { [id]: 'running' }, v)) model.set(id, v);
    } else if (kind === 'flip') {
      const v = rng.pick(operator);
      const to: Wanted = v.wanted === 'running' ? 'sleeping' : 'running';
      if (await apply(`apply ${v.id}=${to}`, { [v.id]: to })) v.wanted = to;
    } else if (kind === 'cancel') {
      const v = rng.pick(live);
      if (v.owner === 'operator') {
        if (await apply(`apply ${v.id}=terminated`, { [v.id]: 'terminated' })) v.wanted = 'terminated';
      } else {
        const ok = await untilAccepted(`cancel ${v.id}`, async () =>
          (await cluster.control('cancel', 'cancelRequest', { id: v.id }, 'cancelReply'))?.ok ? true : undefined,
        );
        if (ok) v.wanted = 'terminated';
      }
    } else {
      // A policy vjob put to sleep by an operator: the policy wants it back, so it resumes soon after.
      const v = rng.pick(policy);
      await apply(`apply ${v.id}=sleeping`, { [v.id]: 'sleeping' });
    }
    return kind;
  }

  async function leader() {
    const st = await cluster.status();
    return cluster.controllers.find((c) => st && st.controller === `entropy-controller-${c.pid}`);
  }

  async function fault(kind: FaultKind): Promise<string> {
    tally.faults[kind]++;
    const pause = () => delay(rng.int(300, 1500));
    switch (kind) {
      case 'controller-kill': {
        const c = (await leader()) ?? rng.pick(cluster.controllers);
        await c.kill();
        await pause();
        c.start();
        return `kill -9 ${c.name}`;
      }
      case 'agent-kill': {
        const node = rng.pick(NODES);
        const a = cluster.agents.get(node)!;
        await a.kill();
        await pause();
        a.start();
        return `kill -9 agent ${node}`;
      }
      case 'nats-kill':
        await cluster.server.kill();
        await delay(rng.int(300, 1000));
        await cluster.server.restart();
        return 'kill -9 nats-server';
      case 'agent-error':
      case 'agent-hang': {
        const node = rng.pick(NODES);
        const type = rng.pick(ACTION_TYPES);
        cluster.injectFault(node, {
          id: `f${++serial}`,
          match: { type },
          fault: kind === 'agent-error' ? 'fail' : 'hang',
          times: 1,
        });
        return `${kind === 'agent-error' ? 'error' : 'hang'} on the next ${type} of ${node}`;
      }
    }
  }

  /** Every action id an agent started, across its restarts, and every VM it ran, from its log. */
  function duplicates(): string[] {
    const out: string[] = [];
    const started = new Map<string, number>();
    const runs = new Map<string, number>();
    for (const node of NODES) {
      let text = '';
      try {
        text = readFileSync(join(dir, 'logs', `agent-${node}.log`), 'utf8');
      } catch {
        continue;
      }
      for (const line of text.split('\n')) {
        if (!line.includes('"action ')) continue;
        let l: { msg?: string; actionId?: string; type?: string; vm?: string };
        try {
          l = JSON.parse(line);
        } catch {
          continue;
        }
        if (l.msg === 'action started' && l.actionId) started.set(l.actionId, (started.get(l.actionId) ?? 0) + 1);
        if (l.msg === 'action done' && l.type === 'run' && l.vm) runs.set(l.vm, (runs.get(l.vm) ?? 0) + 1);
      }
    }
    for (const [id, n] of started) if (n > 1) out.push(`action ${id} started ${n} times`);
    for (const [vm, n] of runs) if (n > 1) out.push(`VM ${vm} run ${n} times`);
    return out;
  }

  it('recovers from every fault: no vjob lost, none half paused, no action run twice, every vjob where it is wanted', async () => {
    const started = Date.now();
    const order = [...FAULT_KINDS];
    let reported = 0;
    while (Date.now() - started < BUDGET_MS || FAULT_KINDS.some((k) => tally.faults[k] === 0)) {
      tally.rounds++;
      const op = await operation();
      if (tally.rounds % order.length === 1) rng.shuffle(order);
      const kind = order[(tally.rounds - 1) % order.length]!;
      await delay(rng.int(0, 800));
      const faultAt = Date.now();
      const what = await fault(kind);
      const { settledAt, last } = await waitQuiet();
      const mixed = mixedVjobs();
      if (settledAt !== undefined) {
        tally.recovered++;
        tally.recoveryMs.push(settledAt - faultAt);
      } else {
        tally.notReached++;
        if (mixed.length > 0) tally.halfPaused++;
        problems.push(
          `round ${tally.rounds} (${op}, ${what}): not settled within ${RECOVERY_LIMIT_MS} ms: ${last}; mixed: ${mixed.join(', ') || 'none'}`,
        );
      }
      const dup = duplicates();
      if (dup.length > reported) {
        tally.duplicated += dup.length - reported;
        problems.push(`round ${tally.rounds} (${op}, ${what}): ${dup.slice(reported).join('; ')}`);
        reported = dup.length;
      }
      const store = await KvQueueStore.open(cluster.nc, queueBucketOf(prefix));
      const stored = new Set((await store.list()).map((v) => v.id));
      const lost = [...model.keys()].filter((id) => !stored.has(id));
      if (lost.length > 0) {
        tally.lost += lost.length;
        problems.push(`round ${tally.rounds} (${op}, ${what}): lost from the queue: ${lost.join(', ')}`);
      }
      if (problems.length > 0) break;
    }
    const sorted = [...tally.recoveryMs].sort((a, b) => a - b);
    const summary = {
      seed: SEED,
      rounds: tally.rounds,
      faults: tally.faults,
      operations: tally.operations,
      recovered: tally.recovered,
      lost: tally.lost,
      halfPaused: tally.halfPaused,
      duplicated: tally.duplicated,
      notReached: tally.notReached,
      recoveryMs: { median: sorted[Math.floor(sorted.length / 2)] ?? 0, max: sorted.at(-1) ?? 0 },
      vjobs: model.size,
    };
    writeFileSync(join(dir, 'summary.json'), JSON.stringify(summary, null, 2));
    console.log(`fault suite: ${JSON.stringify(summary)}`);
    expect(problems).toEqual([]);
    expect(tally.recovered).toBe(tally.rounds);
    for (const k of FAULT_KINDS) expect(tally.faults[k]).toBeGreaterThan(0);
  });
});

function summarize(states: readonly string[]): string {
  const counts = new Map<string, number>();
  for (const s of states) counts.set(s, (counts.get(s) ?? 0) + 1);
  return [...counts].map(([s, n]) => `${n} ${s}`).join(', ');
}
