import { describe, expect, it } from 'vitest';
import { type Configuration, fifoFfd, type Policy, type PolicyView, verifyPlan } from '@entropy/engine';
import { input, runAll, stored, viewOf, vm } from '../../test/support/turn-fixtures.ts';
import { recordFailures } from './failure-book.ts';
import { reconcile, TurnOutcome, withoutVjobs } from './reconcile.ts';
import { drainOf, fitConstraints, turnConstraints } from './turn-constraints.ts';

const kinds = (r: ReturnType<typeof reconcile>) => r.plan?.actions.map((a) => `${a.type} ${a.vm}`).sort() ?? [];

describe("reconcile: the policy's vjobs", () => {
  it('plans the policy decision for its vjobs and leaves the others alone', () => {
    const view = viewOf([vm('x1', 'applied', 'running', 'n1'), vm('q1', 'q', 'waiting'), vm('q2', 'q', 'waiting')]);
    const r = reconcile(input(view, { policy: fifoFfd(), vjobs: [stored('q')] }));
    expect(r.policyError).toBeUndefined();
    expect(r.decision).toEqual({ q: 'running' });
    expect(kinds(r)).toEqual(['run q1', 'run q2']);
  });

  it('asks for cancelled vjobs to be terminated, whatever the policy says', () => {
    const view = viewOf([vm('c1', 'c', 'running', 'n1'), vm('q1', 'q', 'waiting')]);
    const r = reconcile(
      input(view, { policy: runAll, vjobs: [stored('q'), stored('c', { state: 'running', cancelRequestedAt: 5 })] }),
    );
    expect(r.decision).toEqual({ q: 'running', c: 'terminated' });
    expect(kinds(r)).toEqual(['run q1', 'stop c1']);
  });

  it('reports a policy that throws and keeps the last good decision', () => {
    const view = viewOf([vm('q1', 'q', 'waiting')]);
    const broken: Policy = {
      name: 'broken',
      decide: () => {
        throw new Error('boom');
      },
    };
    const r = reconcile(input(view, { policy: broken, vjobs: [stored('q')], lastGood: { q: 'running' } }));
    expect(r.policyError?.code).toBe('ENTROPY_POLICY_FAILED');
    expect(r.policyError?.message).toMatch(/policy 'broken' threw: boom/);
    expect(r.decision).toEqual({ q: 'running' });
  });

  it('refuses a policy decision naming a vjob outside the queue', () => {
    const view = viewOf([vm('x1', 'applied', 'running', 'n1'), vm('q1', 'q', 'waiting')]);
    const greedy: Policy = { name: 'greedy', decide: () => ({ applied: 'sleeping' }) };
    const r = reconcile(input(view, { policy: greedy, vjobs: [stored('q')] }));
    expect(r.policyError?.code).toBe('ENTROPY_INVALID_DECISION');
    expect(r.outcome).toBe(TurnOutcome.NoChange);
    expect(r.plan).toBeUndefined();
  });

  it('starts the oldest vjobs that fit when the whole decision does not, and defers the others', () => {
    const big = (j: string) => vm(`${j}1`, j, 'waiting', undefined, 1, 4096);
    const view = viewOf([big('a'), big('b'), big('c')]);
    const r = reconcile(
      input(view, {
        policy: runAll,
        vjobs: [stored('a', { submittedAt: 1 }), stored('b', { submittedAt: 2 }), stored('c', { submittedAt: 3 })],
      }),
    );
    expect(r.decision).toEqual({ a: 'running', b: 'running' });
    expect(r.deferred).toEqual(['c']);
    expect(kinds(r)).toEqual(['run a1', 'run b1']);
  });

  it('sizes running VMs at their measured CPU for a measured policy, at peak for a peak one', () => {
    const view = viewOf([vm('q1', 'q', 'running', 'n1', 4, 1024), vm('w1', 'w', 'waiting')], {
      q1: { cpu: 0.5, mem: 10 },
    });
    expect(
      reconcile(
        input(view, { policy: fifoFfd(), vjobs: [stored('q', { state: 'running' }), stored('w')] }),
      ).configuration.vms.find((v) => v.id === 'q1')!.demand.cpu,
    ).toBe(0.5);
    expect(
      reconcile(
        input(view, { policy: runAll, vjobs: [stored('q', { state: 'running' }), stored('w')] }),
      ).configuration.vms.find((v) => v.id === 'q1')!.demand.cpu,
    ).toBe(4);
  });

  it('finds nothing to do once the cluster is as wanted, without running the engine', () => {
    const view = viewOf([vm('q1', 'q', 'running', 'n1')]);
    const r = reconcile(input(view, { policy: runAll, vjobs: [stored('q', { state: 'running' })] }));
    expect(r.outcome).toBe(TurnOutcome.NoChange);
    expect(r.decision).toEqual({});
    expect(r.requeueAfterMs).toBe(5000);
  });
});

describe("reconcile: the operator's vjobs and the overlay", () => {
  it('drives an operator vjob to its recorded wanted state, and an overlay wins over it for one turn', () => {
    const view = viewOf([vm('o1', 'o', 'running', 'n1'), vm('o2', 'o', 'running', 'n2')]);
    const op = stored('o', { owner: 'operator', state: 'running', wanted: 'sleeping' });
    expect(kinds(reconcile(input(view, { vjobs: [op] })))).toEqual([
      'pause o1',
      'pause o2',
      'suspend o1',
      'suspend o2',
    ]);
    expect(reconcile(input(view, { vjobs: [op], overlay: { o: 'running' } })).outcome).toBe(TurnOutcome.NoChange);
  });
});

describe('reconcile: any observed state', () => {
  it('unpauses, as one group, a vjob left all paused (a controller killed between its resume and its unpause)', () => {
    const view = viewOf(Array.from({ length: 6 }, (_, i) => vm(`p${i}`, 'p', 'paused', `n${(i % 2) + 1}`, 1, 512)));
    const r = reconcile(input(view));
    expect(r.decision).toEqual({ p: 'running' });
    expect(r.plan!.actions.every((a) => a.type === 'unpause')).toBe(true);
    expect(new Set(r.plan!.actions.map((a) => `${a.start}/${a.end}/${a.step}`)).size).toBe(1);
    expect(verifyPlan(r.configuration, r.decision, r.plan!)).toEqual({ ok: true });
  });

  it('takes a half-resumed vjob (8 paused, 1 sleeping) to sleep when that is what is wanted', () => {
    const vms = [
      ...Array.from({ length: 8 }, (_, i) => vm(`h${i}`, 'h', 'paused', `n${(i % 2) + 1}`, 0.5, 256)),
      vm('h8', 'h', 'sleeping', 'n1', 0.5, 256),
    ];
    const r = reconcile(
      input(viewOf(vms), { vjobs: [stored('h', { owner: 'operator', state: 'sleeping', wanted: 'sleeping' })] }),
    );
    expect(r.decision).toEqual({ h: 'sleeping' });
    expect(kinds(r)).toEqual(Array.from({ length: 8 }, (_, i) => `suspend h${i}`).sort());
  });

  it("falls back to the uniform state a mixed vjob's VMs can all reach when the wanted one is not", () => {
    const vms = [vm('m1', 'm', 'running', 'n1'), vm('m2', 'm', 'waiting')];
    const r = reconcile(input(viewOf(vms), { overlay: { m: 'sleeping' } }));
    expect(r.reasons[0]).toMatch(/vjob m: sleeping is not reachable .*it goes running/);
    expect(kinds(r)).toEqual(['run m2']);
  });
});

describe('reconcile: busy VMs, failures and readiness', () => {
  it('leaves a vjob an agent is acting on alone, its room taken, and looks again soon', () => {
    const view = viewOf([vm('b1', 'b', 'running', 'n1', 4, 4096), vm('w1', 'w', 'waiting', undefined, 4, 4096)], {}, 2);
    const r = reconcile(
      input(view, {
        overlay: { b: 'sleeping' },
        vjobs: [stored('w', { owner: 'operator', wanted: 'running' })],
        busy: [
          { vm: 'b1', node: 'n1', actionId: 'old:a1' },
          { vm: 'x9', node: 'n2', actionId: 'old:a2', demand: { cpu: 1, mem: 1 } },
        ],
      }),
    );
    expect(r.held).toEqual([{ vjob: 'b', reason: 'an agent is acting on b1' }]);
    // n1 is taken by b1, n2 lacks the room the arriving VM takes: no room for w1 yet.
    expect(r.deferred).toEqual(['w']);
    expect(r.outcome).toBe(TurnOutcome.NoChange);
    expect(r.requeueAfterMs).toBeLessThanOrEqual(125);
  });

  it('backs a failed vjob off where it came from, retries it after the backoff, and gives it up after the last attempt', () => {
    const view = viewOf([vm('r1', 'r', 'sleeping', 'n1'), vm('r2', 'r', 'sleeping', 'n2')]);
    const failed = {
      vjob: 'r',
      from: 'sleeping' as const,
      to: 'running' as const,
      final: false,
      error: 'resume r2 on n2: ENTROPY_INJECTED_FAILURE',
    };
    let failures = recordFailures(new Map(), [failed], 1000, {
      maxAttempts: 2,
      baseBackoffMs: 1000,
      maxBackoffMs: 10_000,
    });
    const retry = { maxAttempts: 2, baseBackoffMs: 1000, maxBackoffMs: 10_000 };
    const during = reconcile(input(view, { overlay: { r: 'running' }, failures, retry, now: 1500 }));
    expect(during.held[0]).toMatchObject({ vjob: 'r' });
    expect(during.held[0]!.reason).toMatch(/running failed .*retry 2\/2 after 1 s/);
    expect(during.requeueAfterMs).toBe(500);
    expect(during.plan).toBeUndefined();
    const after = reconcile(input(view, { overlay: { r: 'running' }, failures, retry, now: 2100 }));
    expect(kinds(after)).toEqual(['resume r1', 'resume r2', 'unpause r1', 'unpause r2']);
    failures = recordFailures(failures, [failed], 2200, retry);
    const given = reconcile(input(view, { overlay: { r: 'running' }, failures, retry, now: 99_999 }));
    expect(given.held[0]!.reason).toMatch(/running given up after 2 failure\(s\)/);
    expect(given.plan).toBeUndefined();
    // Once nothing asks for running any more, the failure is forgotten.
    expect(reconcile(input(view, { failures, retry, now: 99_999 })).failures.size).toBe(0);
  });

  it('takes a half-resumed vjob back to sleep at once after its resume failed', () => {
    const vms = [vm('h1', 'h', 'paused', 'n1'), vm('h2', 'h', 'sleeping', 'n2')];
    const failures = recordFailures(
      new Map(),
      [{ vjob: 'h', from: 'sleeping', to: 'running', final: false, error: 'x' }],
      1000,
    );
    const r = reconcile(input(viewOf(vms), { overlay: { h: 'running' }, failures, now: 1001 }));
    expect(r.decision).toEqual({ h: 'sleeping' });
    expect(kinds(r)).toEqual(['suspend h1']);
  });

  it('plans nothing before every known node has reported since the start, unless they stay silent long enough to be offline', () => {
    const view = viewOf([vm('w1', 'w', 'waiting')]);
    const early = reconcile(
      input(view, { overlay: { w: 'running' }, knownNodes: ['n1', 'n2', 'n9'], startedAt: 50, now: 500 }),
    );
    expect(early.outcome).toBe(TurnOutcome.WaitingForNodes);
    expect(early.reasons[0]).toMatch(/waiting for 1 known node\(s\) .*n9/);
    const late = reconcile(
      input(view, { overlay: { w: 'running' }, knownNodes: ['n1', 'n2', 'n9'], startedAt: 50, now: 2000 }),
    );
    expect(late.outcome).toBe(TurnOutcome.Plan);
  });
});

let seen: PolicyView | undefined;
const runAllSeen: Policy = {
  name: 'all',
  sizing: 'peak',
  decide: (pv) => {
    seen = pv;
    return Object.fromEntries(pv.queue.map((j) => [j.id, 'running']));
  },
};

/** The plan of a turn keeps the constraints it was computed under, and the turn says which. */
function verifiedUnder(r: ReturnType<typeof reconcile>) {
  expect(r.plan).toBeDefined();
  expect(verifyPlan(r.configuration, r.decision, r.plan!, r.constraints)).toEqual({ ok: true });
  return r.plan!;
}

describe('a turn under constraints', () => {
  it("plans a vjob's spread and ban, and shows them to the policy", () => {
    const view = viewOf([vm('a1', 'j1', 'waiting'), vm('a2', 'j1', 'waiting'), vm('a3', 'j1', 'waiting')], {}, 3);
    const constraints = [
      { type: 'spread', vms: ['a1', 'a2', 'a3'], continuous: true },
      { type: 'ban', vm: 'a1', nodes: ['n1'], continuous: false },
    ] as const;
    const r = reconcile(input(view, { policy: runAllSeen, vjobs: [stored('j1', { constraints: [...constraints] })] }));
    const plan = verifiedUnder(r);
    const hosts = plan.actions.map((a) => a.to);
    expect(new Set(hosts).size).toBe(3);
    expect(plan.actions.find((a) => a.vm === 'a1')?.to).not.toBe('n1');
    expect(seen?.constraints).toEqual(constraints);
  });

  it('a constraints-file entry naming a vjob the cluster lacks is skipped with a reason; the others hold', () => {
    const view = viewOf([vm('a1', 'j1', 'running', 'n1'), vm('a2', 'j1', 'running', 'n1')], {}, 3);
    const r = reconcile(
      input(view, {
        constraints: [
          { type: 'spread', vjob: 'j1' },
          { type: 'ban', vjob: 'gone', nodes: ['n2'] },
        ],
      }),
    );
    expect(r.reasons).toContain(
      "constraints file: $.constraints[1].vjob skipped this turn: vjob 'gone' is not in the cluster",
    );
    const plan = verifiedUnder(r);
    expect(plan.actions.map((a) => a.type)).toEqual(['migrate']);
  });

  it('a drain empties its node; a drain nothing can satisfy is put off without holding back the other vjobs', () => {
    const view = viewOf([vm('a1', 'j1', 'running', 'n1'), vm('b1', 'j2', 'waiting')], {}, 3);
    const nodes = { wanted: {}, drained: ['n1'] };
    const r = reconcile(input(view, { policy: runAllSeen, vjobs: [stored('j2')], nodes }));
    const plan = verifiedUnder(r);
    expect(plan.actions.find((a) => a.vm === 'a1')?.type).toBe('migrate');
    expect(plan.actions.every((a) => a.to !== 'n1')).toBe(true);

    // a1 may not migrate (root): it stays on n1 and the reason says why the drain waits; b1 still
    // starts, elsewhere, and a new vjob fenced to n1 waits for the undrain.
    const withC1 = viewOf(
      [vm('a1', 'j1', 'running', 'n1'), vm('b1', 'j2', 'waiting'), vm('c1', 'j3', 'waiting')],
      {},
      3,
    );
    const alone = reconcile(
      input(withC1, {
        policy: runAllSeen,
        vjobs: [
          stored('j1', { state: 'running', constraints: [{ type: 'root', vm: 'a1' }] }),
          stored('j2'),
          stored('j3', {
            submittedAt: 1,
            constraints: [{ type: 'fence', vm: 'c1', nodes: ['n1'], continuous: false }],
          }),
        ],
        nodes,
      }),
    );
    expect(alone.outcome).toBe(TurnOutcome.Plan);
    const held = verifiedUnder(alone);
    expect(held.actions.map((a) => `${a.type} ${a.vm}`)).toEqual(['run b1']);
    expect(held.actions[0]!.to).not.toBe('n1');
    expect(alone.deferred).toEqual(['j3']);
    expect(alone.reasons.some((s) => s.startsWith('drain put off: n1 keep their VMs:'))).toBe(true);
  });

  it('a drained node that is empty asks for no plan', () => {
    const view = viewOf([vm('a1', 'j1', 'running', 'n2')], {}, 3);
    const r = reconcile(input(view, { nodes: { wanted: {}, drained: ['n1'] } }));
    expect(r.outcome).toBe(TurnOutcome.NoChange);
  });
});

describe('fitConstraints: constraints over a configuration without its held vjobs', () => {
  const cluster: Configuration = {
    nodes: ['n1', 'n2', 'n3'].map((id) => ({ id, capacity: { cpu: 4, mem: 4096 }, state: 'online' })),
    vms: [vm('a1', 'j1', 'running', 'n1'), vm('a2', 'j1', 'waiting'), vm('h1', 'held', 'running', 'n2')],
    vjobs: [
      { id: 'j1', vms: ['a1', 'a2'], priority: 0, submittedAt: 0 },
      { id: 'held', vms: ['h1'], priority: 0, submittedAt: 1 },
    ],
  };
  const planned = withoutVjobs(cluster, new Set(['held']), []);

  it('drops what names only held VMs, and carries over where held VMs run', () => {
    const fitted = fitConstraints(
      [
        { type: 'root', vm: 'h1' },
        { type: 'spread', vms: ['a1', 'a2', 'h1'], continuous: true },
        { type: 'gather', vms: ['a2', 'h1'], continuous: false },
        { type: 'runningCapacity', nodes: ['n1', 'n2'], amount: 2, continuous: false },
        { type: 'ban', vm: 'a2', nodes: ['n9'], continuous: false },
        drainOf('n2'),
      ],
      cluster,
      planned,
    );
    expect(fitted).toEqual([
      { type: 'spread', vms: ['a1', 'a2'], continuous: true },
      { type: 'ban', vm: 'a1', nodes: ['n2'], continuous: true },
      { type: 'ban', vm: 'a2', nodes: ['n2'], continuous: true },
      { type: 'fence', vm: 'a2', nodes: ['n2'], continuous: false },
      { type: 'runningCapacity', nodes: ['n1', 'n2'], amount: 1, continuous: false },
      { type: 'runningCapacity', nodes: ['n2'], amount: 0, continuous: false },
    ]);
  });

  it('turnConstraints leaves out the constraints of ended or cancelled vjobs, and drains of unknown nodes', () => {
    const c = [{ type: 'root', vm: 'a1' }] as const;
    const t = turnConstraints(
      cluster,
      [
        stored('j1', { constraints: [...c] }),
        stored('x', { state: 'terminated', constraints: [{ type: 'root', vm: 'x1' }] }),
        stored('y', { cancelRequestedAt: 1, constraints: [{ type: 'root', vm: 'y1' }] }),
      ],
      [],
      ['n1', 'n7'],
    );
    expect(t.hard).toEqual(c);
    expect(t.drains).toEqual([drainOf('n1')]);
  });
});
