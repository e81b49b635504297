import { describe, expect, it } from 'vitest';
import { consolidate, type Policy, type PolicyView, type Resources, verifyPlan, type VM } from '@entropy/engine';
import type { MonitorView } from '../monitor/index.ts';
import type { StoredVJob } from '../queue/queue-store.ts';
import { input as reconcileInput } from '../../test/support/turn-fixtures.ts';
import { DEFAULT_TURN_BUDGETS, NO_TURN_BUDGETS, type TurnBudgets } from './budgets.ts';
import { type ReconcileInput, type ReconcileResult, reconcile, TurnOutcome } from './reconcile.ts';

/** A running VM of its own vjob (`j-ID`) on `host`, declaring one CPU, and its memory. */
const running = (id: string, host: string, mem: number): VM => ({
  id,
  vjob: `j-${id}`,
  state: 'running',
  demand: { cpu: 1, mem },
  host,
});

/** Nodes n1..nK of 4 CPUs and 16 GiB; `usage` is the measured CPU of each VM. */
function turn(
  vms: VM[],
  usage: Record<string, number>,
  over: Partial<ReconcileInput> & { nodeCount?: number } = {},
): ReconcileResult {
  const { nodeCount = 2, ...rest } = over;
  const ids = Array.from({ length: nodeCount }, (_, i) => `n${i + 1}`);
  const capacity = { cpu: 4, mem: 16_384 };
  const vjobs = [...new Set(vms.map((v) => v.vjob))];
  const view: MonitorView = {
    at: 100,
    configuration: {
      nodes: ids.map((id) => ({ id, capacity, state: 'online' })),
      vms,
      vjobs: vjobs.map((id, i) => ({
        id,
        vms: vms.filter((v) => v.vjob === id).map((v) => v.id),
        priority: 0,
        submittedAt: i,
      })),
    },
    nodes: ids.map((id) => ({ id, liveness: 'online', driver: 'sim', capacity, lastSeen: 100, vms: 0, inFlight: 0 })),
    excluded: [],
    usage: Object.fromEntries(Object.entries(usage).map(([vm, cpu]): [string, Resources] => [vm, { cpu }])),
  };
  return reconcile(reconcileInput(view, { now: 1_000_000, policy: consolidate(), ...rest }));
}

const migrated = (r: ReconcileResult) =>
  r.plan?.actions
    .filter((a) => a.type === 'migrate')
    .map((a) => a.vm)
    .sort() ?? [];

/** The plan passes the verifier against the configuration the turn says it planned from. */
function expectExecutable(r: ReconcileResult): void {
  expect(r.plan).toBeDefined();
  expect(verifyPlan(r.configuration, r.decision, r.plan!)).toEqual({ ok: true });
}

const budgets = (over: Partial<TurnBudgets>): TurnBudgets => ({ ...NO_TURN_BUDGETS, ...over });

describe('anti-thrash budgets', () => {
  // n1: a (512 MiB), b (768 MiB), c (2 GiB); n2: d.
  const vms = [running('a', 'n1', 512), running('b', 'n1', 768), running('c', 'n1', 2048), running('d', 'n2', 1024)];

  describe('minimum gain', () => {
    it('holds a rebalance whose overload relief is under the minimum, and says so in held', () => {
      // n1 at 4.1 of 4 CPUs: 2.5% of its capacity over.
      const usage = { a: 1.4, b: 1.4, c: 1.3, d: 1 };
      expect(migrated(turn(vms, usage))).toEqual(['a']);
      const r = turn(vms, usage, { budgets: DEFAULT_TURN_BUDGETS });
      expect(r.outcome).toBe(TurnOutcome.NoChange);
      expect(r.plan).toBeUndefined();
      expect(r.held).toEqual([
        { vjob: 'j-a', kind: 'budget', reason: expect.stringMatching(/minimum gain.*2\.5%.*5%/) },
      ]);
      expect(r.reasons.join('; ')).toMatch(/rebalance held \(minimum gain\): moving a/);
    });

    it('executes a rebalance that relieves at least the minimum', () => {
      // 4.5 of 4: 12.5% over.
      const r = turn(vms, { a: 1.5, b: 1.5, c: 1.5, d: 1 }, { budgets: DEFAULT_TURN_BUDGETS });
      expect(migrated(r)).toEqual(['a']);
      expect(r.held).toEqual([]);
      expectExecutable(r);
    });

    it('sums the relief over nodes: two small overloads together pass', () => {
      const four = [...vms, running('e', 'n2', 512), running('f', 'n2', 512), running('g', 'n3', 256)];
      // n1 and n2 each 3% over, n3 nearly empty: 6% relieved in all.
      const usage = { a: 1.24, b: 1.4, c: 1.48, d: 1.4, e: 1.36, f: 1.36, g: 0.1 };
      const r = turn(four, usage, { budgets: budgets({ minGain: 0.05 }), nodeCount: 3 });
      expect(migrated(r).length).toBeGreaterThanOrEqual(2);
      expectExecutable(r);
      expect(turn(four, usage, { budgets: budgets({ minGain: 0.07 }), nodeCount: 3 }).outcome).toBe(
        TurnOutcome.NoChange,
      );
    });
  });

  describe('hold time', () => {
    const usage = { a: 1.5, b: 1.5, c: 1.5, d: 1 };
    const hold = budgets({ moveHoldMs: 300_000 });

    it('keeps a VM moved within the hold in place and moves another', () => {
      expect(migrated(turn(vms, usage, { budgets: hold }))).toEqual(['a']);
      const r = turn(vms, usage, { budgets: hold, recentMoves: new Map([['a', 1_000_000 - 60_000]]) });
      expect(migrated(r)).toEqual(['b']);
      expect(r.reasons.join('; ')).toMatch(/a moved less than 300 s ago: kept in place/);
      expectExecutable(r);
    });

    it('lets the VM move again once the hold is over', () => {
      const r = turn(vms, usage, { budgets: hold, recentMoves: new Map([['a', 1_000_000 - 300_000]]) });
      expect(migrated(r)).toEqual(['a']);
    });

    it('is lifted when nothing else relieves the overload', () => {
      // a alone overloads n1: only moving it repairs.
      const r = turn(
        [running('a', 'n1', 512), running('d', 'n2', 512)],
        { a: 5, d: 1 },
        {
          budgets: hold,
          recentMoves: new Map([['a', 1_000_000 - 1000]]),
        },
      );
      // The engine cannot move a 5-CPU VM to a 4-CPU node either: the turn is infeasible, pinned or not.
      expect(r.outcome).toBe(TurnOutcome.Infeasible);
      const r2 = turn(
        [running('a', 'n1', 512), running('c', 'n1', 2048), running('d', 'n2', 512)],
        { a: 3, c: 3, d: 0.5 },
        {
          budgets: hold,
          recentMoves: new Map([
            ['a', 1_000_000 - 1000],
            ['c', 1_000_000 - 1000],
          ]),
        },
      );
      expect(migrated(r2)).toEqual(['a']);
      expect(r2.reasons.join('; ')).toMatch(/hold lifted for a/);
      expectExecutable(r2);
    });

    it('does not hold the VMs of a vjob the turn changes the state of', () => {
      const policy: Policy = { name: 'sleep-a', sizing: 'peak', decide: () => ({ 'j-a': 'sleeping' }) };
      const stored: StoredVJob[] = [{ id: 'j-a', priority: 0, submittedAt: 0, state: 'running', vms: [] }];
      const r = turn(
        vms,
        {},
        { policy, vjobs: stored, budgets: hold, recentMoves: new Map([['a', 1_000_000 - 1000]]) },
      );
      expect(r.plan?.actions.map((x) => `${x.type} ${x.vm}`).sort()).toEqual(['pause a', 'suspend a']);
      expect(r.reasons.join('; ')).not.toMatch(/kept in place|hold lifted/);
    });

    it('does not keep a start waiting: a VM in its hold moves to make room when nothing else does', () => {
      // n1: x (1 CPU), n2: y (1 CPU); z needs a whole node: one of them must move.
      const x = running('x', 'n1', 1024);
      const y = running('y', 'n2', 2048);
      const z: VM = { id: 'z', vjob: 'jz', state: 'waiting', demand: { cpu: 4, mem: 1024 } };
      const policy: Policy = {
        name: 'all',
        sizing: 'peak',
        decide: (pv: PolicyView) => Object.fromEntries(pv.queue.map((j) => [j.id, 'running'])),
      };
      const stored: StoredVJob[] = [{ id: 'jz', priority: 0, submittedAt: 0, state: 'waiting', vms: [] }];
      const both = new Map([
        ['x', 1_000_000 - 1000],
        ['y', 1_000_000 - 1000],
      ]);
      const r = turn([x, y, z], {}, { policy, vjobs: stored, budgets: hold, recentMoves: both });
      expect(r.deferred).toEqual([]);
      expect(migrated(r)).toEqual(['x']);
      expect(r.reasons.join('; ')).toMatch(/hold lifted for x/);
    });
  });

  describe('per-turn budget', () => {
    // n1: six VMs at 1 CPU each (2 over), n2 and n3 empty.
    const six = ['a', 'b', 'c', 'd', 'e', 'f'].map((id, i) => running(id, 'n1', 512 * (i + 1)));
    const usage = Object.fromEntries(six.map((v) => [v.id, 1]));

    it('cuts a plan over the migration budget to it, the cheapest first; the rest waits for the next turn', () => {
      expect(migrated(turn(six, usage, { nodeCount: 3 }))).toEqual(['a', 'b']);
      const r = turn(six, usage, { nodeCount: 3, budgets: budgets({ maxMigrations: 1 }) });
      expect(migrated(r)).toEqual(['a']);
      expect(r.held).toEqual([
        {
          vjob: 'j-b',
          kind: 'budget',
          reason: expect.stringMatching(/per-turn budget \(1 migrations.*1 of 2 migrations/),
        },
      ]);
      expectExecutable(r);
      // The next turn, from where this one left the cluster: the other migration.
      const after = six.map((v) => (v.id === 'a' ? { ...v, host: r.plan!.target.a!.host! } : v));
      const next = turn(after, usage, { nodeCount: 3, budgets: budgets({ maxMigrations: 1 }) });
      expect(migrated(next)).toEqual(['b']);
      expect(next.held).toEqual([]);
    });

    it('counts migrated memory', () => {
      const r = turn(six, usage, { nodeCount: 3, budgets: budgets({ maxMigratedMiB: 1000 }) });
      expect(migrated(r)).toEqual(['a']);
      expect(r.held.map((h) => h.kind)).toEqual(['budget']);
      expectExecutable(r);
    });

    it('leaves an overload for later when no migration fits the budget', () => {
      const big = [running('b', 'n1', 2048), running('c', 'n1', 2048)];
      const r = turn(big, { b: 1.5, c: 3 }, { budgets: budgets({ maxMigratedMiB: 1000 }) });
      expect(r.outcome).toBe(TurnOutcome.NoChange);
      expect(r.plan).toBeUndefined();
      expect(r.held).toEqual([
        { vjob: 'j-b', kind: 'budget', reason: expect.stringMatching(/0 of 1 migrations this turn, b waits/) },
      ]);
    });

    it('never puts a start off: a state change that needs more than the budget runs whole', () => {
      // z needs a whole node: two migrations off n2 (512 MiB), or one off n1 (1 GiB).
      const vmsZ = [running('x', 'n1', 1024), running('y1', 'n2', 256), running('y2', 'n2', 256)];
      const z: VM = { id: 'z', vjob: 'jz', state: 'waiting', demand: { cpu: 4, mem: 1024 } };
      const policy: Policy = { name: 'all', sizing: 'peak', decide: () => ({ jz: 'running' }) };
      const stored: StoredVJob[] = [{ id: 'jz', priority: 0, submittedAt: 0, state: 'waiting', vms: [] }];
      // Unbudgeted: the cheapest memory, y1 and y2 leave n2.
      expect(migrated(turn([...vmsZ, z], {}, { policy, vjobs: stored }))).toEqual(['y1', 'y2']);
      // One migration: y2 is pinned and the replan moves x instead; z still starts.
      const one = turn([...vmsZ, z], {}, { policy, vjobs: stored, budgets: budgets({ maxMigrations: 1 }) });
      expect(migrated(one)).toEqual(['x']);
      expect(one.deferred).toEqual([]);
      expectExecutable(one);
      // None: z would wait; the whole plan runs instead, and the reason says so.
      const r = turn([...vmsZ, z], {}, { policy, vjobs: stored, budgets: budgets({ maxMigrations: 0 }) });
      expect(r.deferred).toEqual([]);
      expect(migrated(r)).toEqual(['y1', 'y2']);
      expectExecutable(r);
      expect(r.reasons.some((x) => /state changes need all of it/.test(x))).toBe(true);
      expect(r.held.filter((h) => h.vjob === 'jz')).toEqual([]);
    });
  });

  it('changes nothing without budgets, and the defaults leave a turn of state changes alone', () => {
    const usage = { a: 1.5, b: 1.5, c: 1.5, d: 1 };
    const plain = turn(vms, usage);
    const withDefaults = turn(vms, usage, { budgets: DEFAULT_TURN_BUDGETS });
    expect(migrated(withDefaults)).toEqual(migrated(plain));
  });
});
