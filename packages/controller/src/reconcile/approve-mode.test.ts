import { setTimeout as delay } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { type Configuration, DEFAULT_COST_MODEL, type FeasiblePlan } from '@entropy/engine';
import type { MonitorView } from '../monitor/index.ts';
import { type ReconcileLoop, startReconcileLoop } from './reconcile-loop.ts';

const waiting: Configuration = {
  nodes: [{ id: 'n1', capacity: { cpu: 4, mem: 4096 }, state: 'online' }],
  vms: [{ id: 'v1', vjob: 'j1', state: 'waiting', demand: { cpu: 1, mem: 512 } }],
  vjobs: [{ id: 'j1', vms: ['v1'], priority: 0, submittedAt: 0 }],
};
const viewOf = (configuration: Configuration): MonitorView => ({
  at: 0,
  configuration,
  nodes: [],
  excluded: [],
  usage: {},
});

async function until(what: string, probe: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!probe()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await delay(5);
  }
}

describe('the reconcile loop in --approve mode', () => {
  let loop: ReconcileLoop | undefined;
  afterEach(() => loop?.close());

  function harness() {
    const state = {
      view: viewOf(waiting),
      started: [] as { planId: string; plan: FeasiblePlan }[],
      lines: [] as Record<string, unknown>[],
      ids: 0,
    };
    const log = (o: object, msg?: string) => void state.lines.push({ ...o, msg });
    loop = startReconcileLoop({
      logger: { info: log, warn: log, error: log, debug: log },
      intervalMs: 3_600_000,
      statusPeriodMs: 40,
      silenceMs: 120,
      view: () => state.view,
      isFresh: () => true,
      busy: () => [],
      knownNodes: () => [],
      execute: (planId, plan) => {
        state.started.push({ planId, plan });
        return new Promise(() => {});
      },
      newPlanId: (p) => `${p}-${++state.ids}`,
      costModel: DEFAULT_COST_MODEL,
      decide: () => ({ j1: 'running' }),
      approve: true,
    });
    const proposedLines = () => state.lines.filter((l) => l.outcome === 'proposed');
    return { state, proposedLines };
  }

  it('proposes the plan, holds its vjob and executes nothing until approved; approve executes it', async () => {
    const { state, proposedLines } = harness();
    await until('a proposal', () => proposedLines().length === 1);
    expect(proposedLines()[0]).toMatchObject({
      planId: 'proposal-1',
      held: [{ vjob: 'j1', reason: 'waiting for approval of plan proposal-1' }],
    });
    loop!.trigger('timer');
    loop!.trigger('submit');
    await delay(100);
    expect(proposedLines()).toHaveLength(1);
    expect(state.started).toEqual([]);
    expect(loop!.proposals().pending.map((p) => p.id)).toEqual(['proposal-1']);

    const r = await loop!.approve('proposal-1');
    expect(r).toMatchObject({ ok: true, executing: true });
    expect(state.started.map((s) => s.planId)).toEqual(['proposal-1']);
    expect(loop!.proposals().pending).toEqual([]);
  });

  it('a rejected plan is not proposed again while nothing changes; an approval of it is refused', async () => {
    const { state, proposedLines } = harness();
    await until('a proposal', () => proposedLines().length === 1);
    expect(loop!.reject('proposal-1')).toBe(true);
    loop!.trigger('timer');
    await until('a turn that sees the rejection', () => state.lines.some((l) => l.outcome === 'rejected'));
    expect(state.lines.find((l) => l.outcome === 'rejected')).toMatchObject({
      held: [{ vjob: 'j1', reason: expect.stringMatching(/^plan proposal-1 was rejected/) }],
    });
    expect(proposedLines()).toHaveLength(1);
    expect(await loop!.approve('proposal-1')).toEqual({ ok: false, unknown: 'plan proposal-1 was rejected' });
    expect(state.started).toEqual([]);
  });

  it('an approval of a proposal the cluster no longer matches is refused, and the proposal goes', async () => {
    const { state, proposedLines } = harness();
    await until('a proposal', () => proposedLines().length === 1);
    // Someone else started v1 meanwhile (on n1, where the plan runs it).
    state.view = viewOf({ ...waiting, vms: [{ ...waiting.vms[0]!, state: 'running', host: 'n1' }] });
    const r = await loop!.approve('proposal-1');
    expect(r).toMatchObject({
      ok: false,
      code: 'ENTROPY_PLAN_STALE',
      message: 'plan proposal-1 no longer matches the cluster: vm v1: saved waiting, now running on n1',
    });
    expect(state.started).toEqual([]);
    expect(loop!.proposals().pending).toEqual([]);
  });
});
