import { setTimeout as delay } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import type { Configuration, Decision } from '../model/configuration.ts';
import { DEFAULT_COST_MODEL } from '../model/cost-model.ts';
import type { MonitorView } from '../monitor/index.ts';
import { type ControlLoop, type ControlLoopDeps, startControlLoop } from './control-loop.ts';

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

describe('startControlLoop', () => {
  let loop: ControlLoop | undefined;
  afterEach(() => loop?.close());

  function harness(over: Partial<ControlLoopDeps> = {}) {
    const state = { running: false, fresh: true, decides: 0, started: [] as { planId: string; decision: Decision }[], lines: [] as Record<string, unknown>[] };
    const log = (o: object, msg?: string) => void state.lines.push({ ...o, msg });
    loop = startControlLoop({
      logger: { info: log, warn: log, error: log, debug: log },
      intervalMs: 3_600_000,
      statusPeriodMs: 40,
      view: () => view,
      isFresh: () => state.fresh,
      planRunning: () => state.running,
      execute: (planId, _plan, _c, decision) => {
        state.started.push({ planId, decision });
        state.running = true;
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
    expect(st.lines.find((l) => l.msg === 'control loop turn')).toMatchObject({ planId: 'loop1-x', actions: 1, byType: { run: 1 }, outcome: 'plan-started', triggers: ['start'] });
  });

  it('coalesces triggers that arrive while a plan runs into one turn after its end, which re-observes', async () => {
    const st = harness();
    await until('a plan', () => st.started.length === 1);
    const decided = st.decides;
    for (const r of ['submit', 'cancel', 'node-online', 'submit']) loop!.trigger(r);
    await delay(50);
    expect(st.decides).toBe(decided);
    st.running = false;
    loop!.planEnded('completed');
    await until('the next plan', () => st.started.length === 2);
    expect(st.decides).toBe(decided + 1);
    const turns = st.lines.filter((l) => l.outcome === 'plan-started');
    expect(turns[1]!.triggers).toEqual(expect.arrayContaining(['submit', 'cancel', 'node-online', 'plan-ended']));
  });

  it('waits for fresh statuses before deciding', async () => {
    let fresh = false;
    const st = harness({ isFresh: () => fresh });
    await delay(100);
    expect(st.decides).toBe(0);
    fresh = true;
    await until('a decision once statuses are fresh', () => st.decides === 1);
  });

  it('re-plans after a failed plan, after a backoff, and keeps running when decide throws', async () => {
    let calls = 0;
    const st = harness({
      decide: () => {
        if (++calls === 1) throw new Error('policy bug');
        return { j1: 'running' };
      },
    });
    await until('the error to be logged', () => st.lines.some((l) => l.msg === 'control loop turn failed'));
    expect(st.lines.find((l) => l.msg === 'control loop turn failed')).toMatchObject({ err: 'policy bug' });
    loop!.trigger('timer');
    await until('a plan', () => st.started.length === 1);
    st.running = false;
    loop!.planEnded('failed');
    await until('a second plan after the failure', () => st.started.length === 2);
    expect(st.lines.filter((l) => l.outcome === 'plan-started')[1]!.triggers).toEqual(['plan-failed']);
  });
});
