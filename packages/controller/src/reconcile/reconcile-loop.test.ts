import { setTimeout as delay } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import type { ExecutionOutcome } from '../executor/index.ts';
import { type Configuration, type Decision, DEFAULT_COST_MODEL, type FeasiblePlan } from '@entropy/engine';
import type { MonitorView } from '../monitor/index.ts';
import { type ReconcileLoop, type ReconcileLoopDeps, startReconcileLoop } from './reconcile-loop.ts';

const configuration: Configuration = {
  nodes: [{ id: 'n1', capacity: { cpu: 4, mem: 4096 }, state: 'online' }],
  vms: [{ id: 'v1', vjob: 'j1', state: 'waiting', demand: { cpu: 1, mem: 512 } }],
  vjobs: [{ id: 'j1', vms: ['v1'], priority: 0, submittedAt: 0 }],
};
const view: MonitorView = { at: 0, configuration, nodes: [], excluded: [], usage: {} };

async function until(what: string, probe: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!probe()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await delay(5);
  }
}

/** An outcome in which the plan's first action failed with `code`. */
function failedOutcome(planId: string, plan: FeasiblePlan, code: string): ExecutionOutcome {
  const a = plan.actions[0]!;
  const failure = {
    action: a,
    wireId: `${planId}:${a.id}`,
    node: 'n1',
    error: { code, message: 'boom' },
    elapsedMs: 1,
    attempts: 1,
    uncertain: false,
  };
  return {
    planId,
    mode: 'barrier',
    status: 'failed',
    completed: [],
    failed: failure,
    failures: [failure],
    undone: [],
    notStarted: [],
    nodeActions: { completed: [], failures: [], notStarted: [] },
    leftPaused: [],
    uncertainVms: [],
    observed: configuration,
    estimatedMs: 1,
    measuredMs: 1,
  };
}

describe('startReconcileLoop', () => {
  let loop: ReconcileLoop | undefined;
  afterEach(() => loop?.close());

  function harness(over: Partial<ReconcileLoopDeps> = {}) {
    const state = {
      fresh: true,
      decides: 0,
      started: [] as { planId: string; decision: Decision }[],
      lines: [] as Record<string, unknown>[],
      finish: undefined as ((o: ExecutionOutcome | undefined) => void) | undefined,
      plan: undefined as FeasiblePlan | undefined,
    };
    const log = (o: object, msg?: string) => void state.lines.push({ ...o, msg });
    loop = startReconcileLoop({
      logger: { info: log, warn: log, error: log, debug: log },
      intervalMs: 3_600_000,
      statusPeriodMs: 40,
      silenceMs: 120,
      view: () => view,
      isFresh: () => state.fresh,
      busy: () => [],
      knownNodes: () => [],
      execute: (planId, plan, _c, decision) => {
        state.started.push({ planId, decision });
        state.plan = plan;
        return new Promise((resolve) => (state.finish = resolve));
      },
      newPlanId: (p) => `${p}-x`,
      costModel: DEFAULT_COST_MODEL,
      decide: () => {
        state.decides++;
        return { j1: 'running' };
      },
      ...over,
    });
    return state;
  }

  it('runs a turn at start and hands the plan to the executor, logging the turn', async () => {
    const st = harness();
    await until('a plan', () => st.started.length === 1);
    expect(st.started[0]).toEqual({ planId: 'loop1-x', decision: { j1: 'running' } });
    expect(st.lines.find((l) => l.msg === 'control loop turn')).toMatchObject({
      planId: 'loop1-x',
      actions: 1,
      byType: { run: 1 },
      outcome: 'plan-started',
      triggers: ['start'],
    });
    expect(loop!.running()).toBe('loop1-x');
  });

  it('coalesces triggers that arrive while a plan runs into one turn after its end, which re-observes', async () => {
    const st = harness();
    await until('a plan', () => st.started.length === 1);
    const decided = st.decides;
    for (const r of ['submit', 'cancel', 'node-online', 'submit']) loop!.trigger(r);
    await delay(50);
    expect(st.decides).toBe(decided);
    st.finish!({
      ...failedOutcome('loop1-x', st.plan!, 'X'),
      status: 'completed',
      failures: [],
      completed: [],
    } as unknown as ExecutionOutcome);
    await until('the next plan', () => st.started.length === 2);
    expect(st.decides).toBe(decided + 1);
    const turns = st.lines.filter((l) => l.outcome === 'plan-started');
    expect(turns[1]!.triggers).toEqual(expect.arrayContaining(['submit', 'cancel', 'node-online', 'plan-ended']));
  });

  it('waits for fresh statuses before deciding', async () => {
    const st = harness();
    st.fresh = false;
    await delay(100);
    expect(st.decides).toBe(0);
    st.fresh = true;
    await until('a decision once statuses are fresh', () => st.decides === 1);
  });

  it('keeps running when decide throws, and backs a vjob whose action failed off before retrying it', async () => {
    let calls = 0;
    const st = harness({
      decide: () => {
        if (++calls === 1) throw new Error('policy bug');
        return { j1: 'running' };
      },
      retry: { maxAttempts: 3, baseBackoffMs: 300, maxBackoffMs: 1000 },
    });
    await until('the error to be logged', () => st.lines.some((l) => l.msg === 'control loop turn failed'));
    expect(st.lines.find((l) => l.msg === 'control loop turn failed')).toMatchObject({ err: 'policy bug' });
    loop!.trigger('timer');
    await until('a plan', () => st.started.length === 1);
    const failedAt = Date.now();
    st.finish!(failedOutcome('loop1-x', st.plan!, 'ENTROPY_INJECTED_FAILURE'));
    await until('the outcome per vjob', () => st.lines.some((l) => l.msg === 'plan outcome per vjob'));
    const outcome = st.lines.find((l) => l.msg === 'plan outcome per vjob')!;
    expect((outcome.vjobs as Record<string, string>).j1).toMatch(
      /^waiting -> running: FAILED run v1 on n1: ENTROPY_INJECTED_FAILURE boom; done: no action; back to waiting now, retry 2\/3 in 1 s/,
    );
    await until('the held turn', () => st.lines.some((l) => Array.isArray(l.held)));
    await until('a second plan after the backoff', () => st.started.length === 2);
    expect(Date.now() - failedAt).toBeGreaterThanOrEqual(250);
    expect(loop!.failures().get('j1')).toMatchObject({ attempts: 1, to: 'running' });
  });

  it('runs an apply turn with its overlay and plan id, and refuses one while a plan runs', async () => {
    const st = harness({ decide: () => undefined });
    const reply = await loop!.turnNow({ planId: 'apply-1', overlay: { j1: 'running' } });
    expect(reply).toMatchObject({ ok: true, executing: true });
    expect(st.started[0]).toEqual({ planId: 'apply-1', decision: { j1: 'running' } });
    expect(await loop!.turnNow({ planId: 'apply-2', overlay: {} })).toEqual({ ok: false, busy: 'apply-1' });
  });

  it('plans a dry-run apply without executing it', async () => {
    const st = harness({ decide: () => undefined });
    await until('the start turn', () => st.lines.some((l) => l.msg === 'control loop turn'));
    const reply = await loop!.turnNow({ planId: 'apply-dry', overlay: { j1: 'running' }, dryRun: true });
    expect(reply.ok && reply.executing).toBe(false);
    expect(reply.ok && reply.result.plan?.actions.map((a) => a.type)).toEqual(['run']);
    expect(st.started).toEqual([]);
  });

  it("plans a node's wanted state, backs a failed node action off, and tries again at once when the operator asks again", async () => {
    const st = harness({
      decide: () => undefined,
      nodeWants: () => ({ wanted: { n1: 'offline' }, poweredOff: {} }),
      nodePower: { unsupported: () => undefined },
      retry: { maxAttempts: 3, baseBackoffMs: 3_600_000, maxBackoffMs: 3_600_000 },
    });
    await until('a plan', () => st.started.length === 1);
    const shutdown = st.plan!.nodeActions![0]!;
    expect(shutdown).toMatchObject({ type: 'shutdownNode', node: 'n1' });
    const failure = {
      action: shutdown,
      wireId: `loop1-x:${shutdown.id}`,
      error: { code: 'ENTROPY_NO_AGENT', message: 'no responders' },
      elapsedMs: 1,
      uncertain: true,
    };
    st.finish!({
      ...failedOutcome(
        'loop1-x',
        {
          ...st.plan!,
          actions: [
            { id: 'a0', type: 'run', vm: 'v1', vjob: 'j1', to: 'n1', start: 0, end: 1, step: 0, dependsOn: [] },
          ],
        },
        'X',
      ),
      failed: undefined,
      failures: [],
      nodeActions: { completed: [], failures: [failure], notStarted: [] },
    } as unknown as ExecutionOutcome); // a hand-made outcome: only the node failure matters
    await until('the failure logged', () => st.lines.some((l) => l.msg === 'node power action failed'));
    await until('a turn holding the node', () =>
      st.lines.some((l) => (l.reasons as string[] | undefined)?.some((r) => r.startsWith('node n1 stays online'))),
    );
    expect(st.started).toHaveLength(1);
    loop!.nodeRequested('n1');
    await until('the shutdown planned again', () => st.started.length === 2);
    expect(st.plan!.nodeActions).toMatchObject([{ type: 'shutdownNode', node: 'n1' }]);
  });

  it('does not plan a boot this controller cannot run, and says why', async () => {
    const offline: MonitorView = {
      ...view,
      configuration: {
        ...configuration,
        vms: [],
        vjobs: [],
        nodes: [{ id: 'n1', capacity: { cpu: 4, mem: 4096 }, state: 'offline' }],
      },
    };
    const st = harness({
      view: () => offline,
      decide: () => undefined,
      nodeWants: () => ({ wanted: { n1: 'online' }, poweredOff: {} }),
      nodePower: {
        unsupported: (type) => (type === 'bootNode' ? 'start the controller with --boot-command' : undefined),
      },
    });
    await until('the turn', () => st.lines.some((l) => l.msg === 'control loop turn'));
    expect(st.lines.find((l) => l.msg === 'control loop turn')).toMatchObject({
      outcome: 'no-change',
      reasons: ['node n1 is wanted online: start the controller with --boot-command'],
    });
    expect(st.started).toEqual([]);
  });

  describe('in --approve mode', () => {
    const proposed = (st: ReturnType<typeof harness>) => st.lines.filter((l) => l.outcome === 'proposed');

    it('repairs a vjob caught in mixed states without approval, and proposes the rest', async () => {
      // j2 half paused (a crash between its pause and its save); j1 waits to run: only j2's repair runs unasked.
      const mixed: MonitorView = {
        ...view,
        configuration: {
          nodes: configuration.nodes,
          vms: [
            ...configuration.vms,
            { id: 'w1', vjob: 'j2', state: 'running', host: 'n1', demand: { cpu: 1, mem: 512 } },
            { id: 'w2', vjob: 'j2', state: 'paused', host: 'n1', demand: { cpu: 1, mem: 512 } },
          ],
          vjobs: [...configuration.vjobs, { id: 'j2', vms: ['w1', 'w2'], priority: 0, submittedAt: 0 }],
        },
      };
      let current = mixed;
      const st = harness({ approve: true, view: () => current, decide: () => ({ j1: 'running' }) });
      await until('the repair', () => st.started.length === 1);
      expect(Object.keys(st.started[0]!.decision)).toEqual(['j2']);
      expect(st.plan!.actions.every((a) => a.vjob === 'j2')).toBe(true);
      expect(proposed(st)).toEqual([]);
      expect(st.lines.some((l) => l.msg === 'repairing vjobs in mixed states without approval')).toBe(true);
      // Once j2 is whole again, j1's start waits for approval as usual.
      current = {
        ...mixed,
        configuration: {
          ...mixed.configuration,
          vms: mixed.configuration.vms.map((v) => (v.vjob === 'j2' ? { ...v, state: 'running' as const } : v)),
        },
      };
      st.finish!({
        ...failedOutcome(st.started[0]!.planId, st.plan!, 'X'),
        status: 'completed',
        failures: [],
        completed: [],
      } as unknown as ExecutionOutcome);
      await until('a proposal', () => proposed(st).length === 1);
      expect(st.started).toHaveLength(1);
      expect(loop!.proposals().pending[0]!.decision).toEqual({ j1: 'running' });
    });

    it('proposes the plan, holds its vjob and executes nothing until approved; approve executes it', async () => {
      const st = harness({ approve: true });
      await until('a proposal', () => proposed(st).length === 1);
      expect(proposed(st)[0]).toMatchObject({
        planId: 'proposal-x',
        held: [{ vjob: 'j1', reason: 'waiting for approval of plan proposal-x' }],
      });
      loop!.trigger('timer');
      loop!.trigger('submit');
      await delay(100);
      expect(st.decides).toBeGreaterThan(1);
      expect(proposed(st)).toHaveLength(1);
      expect(st.started).toEqual([]);
      expect(loop!.proposals().pending.map((p) => p.id)).toEqual(['proposal-x']);

      expect(await loop!.approve('proposal-x')).toMatchObject({ ok: true, executing: true });
      expect(st.started).toEqual([{ planId: 'proposal-x', decision: { j1: 'running' } }]);
      expect(loop!.proposals().pending).toEqual([]);
    });

    it('a rejected plan is not proposed again while nothing changes; an approval of it is refused', async () => {
      const st = harness({ approve: true });
      await until('a proposal', () => proposed(st).length === 1);
      expect(loop!.reject('proposal-x')).toBe(true);
      loop!.trigger('timer');
      await until('a turn that sees the rejection', () => st.lines.some((l) => l.outcome === 'rejected'));
      expect(st.lines.find((l) => l.outcome === 'rejected')).toMatchObject({
        held: [{ vjob: 'j1', reason: expect.stringMatching(/^plan proposal-x was rejected/) }],
      });
      expect(proposed(st)).toHaveLength(1);
      expect(await loop!.approve('proposal-x')).toEqual({ ok: false, unknown: 'plan proposal-x was rejected' });
      expect(st.started).toEqual([]);
    });

    it('an approval of a proposal the cluster no longer matches is refused, and the proposal goes', async () => {
      let current = view;
      const st = harness({ approve: true, view: () => current });
      await until('a proposal', () => proposed(st).length === 1);
      // Someone else started v1 meanwhile (on n1, where the plan runs it).
      current = {
        ...view,
        configuration: { ...configuration, vms: [{ ...configuration.vms[0]!, state: 'running', host: 'n1' }] },
      };
      expect(await loop!.approve('proposal-x')).toMatchObject({
        ok: false,
        code: 'ENTROPY_PLAN_STALE',
        message: 'plan proposal-x no longer matches the cluster: vm v1: saved waiting, now running on n1',
      });
      expect(st.started).toEqual([]);
      expect(loop!.proposals().pending).toEqual([]);
    });
  });
});
