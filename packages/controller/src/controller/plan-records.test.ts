import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { MemoryJournal } from '../journal/plan-journal.ts';
import { describe, expect, it } from 'vitest';
import { barrierMakespan, contextSwitch, parseInstance } from '@entropy/engine';
import { executePlan, ExecutionMode, MemoryTransport } from '../executor/index.ts';
import { MemoryQueueStore } from '../queue/queue-store.ts';
import { closeInterruptedPlan, planRecorder } from './plan-records.ts';

const reference = parseInstance(
  JSON.parse(readFileSync(resolve(import.meta.dirname, '../../../../examples/reference.json'), 'utf8')),
);

/** A logger that keeps its warnings. */
function recordingLogger() {
  const warnings: { obj: object; msg?: string }[] = [];
  const ignore = () => {};
  return {
    warnings,
    logger: {
      info: ignore,
      debug: ignore,
      error: ignore,
      warn: (obj: object, msg?: string) => void warnings.push({ obj, msg }),
    },
  };
}

async function runReference(failOn: string[]) {
  const plan = contextSwitch(reference.configuration, reference.decision, reference.costModel);
  if (!plan.feasible) throw new Error(plan.reason);
  const outcome = await executePlan(plan, {
    planId: 'p1',
    configuration: reference.configuration,
    decision: reference.decision,
    transport: new MemoryTransport(reference.configuration, { failOn }),
  });
  return { plan, outcome };
}

describe('planRecorder', () => {
  it('records a plan as running when it starts, then its outcome, in that order', async () => {
    const store = new MemoryQueueStore();
    let t = 100;
    const rec = planRecorder(store, 'ctl', recordingLogger().logger, () => t);
    const { plan, outcome } = await runReference(['j1-vm5']);
    rec.started('p1', plan, ExecutionMode.Barrier);
    await rec.flushed();
    expect(await store.lastPlan()).toEqual({
      planId: 'p1',
      status: 'running',
      controller: 'ctl',
      mode: 'barrier',
      actions: plan.actions.length,
      steps: plan.steps,
      estimatedMs: barrierMakespan(plan.actions),
      startedAt: 100,
    });
    t = 250;
    rec.ended('p1', outcome);
    await rec.flushed();
    expect(await store.lastPlan()).toMatchObject({
      planId: 'p1',
      status: 'failed',
      startedAt: 100,
      endedAt: 250,
      done: outcome.completed.length,
      failed: 1,
      failure: expect.stringMatching(/^pause j1-vm5 on \S+: /),
      leftPaused: outcome.leftPaused,
      uncertainVms: outcome.uncertainVms,
    });
  });

  it('records a plan the executor refused, and logs a store that cannot write without throwing', async () => {
    const store = new MemoryQueueStore();
    const rec = planRecorder(store, 'ctl', recordingLogger().logger);
    const { plan } = await runReference([]);
    rec.started('p2', plan, ExecutionMode.Asap);
    rec.notExecuted('p2', 'refused by the verifier');
    await rec.flushed();
    expect(await store.lastPlan()).toMatchObject({
      planId: 'p2',
      mode: 'asap',
      estimatedMs: plan.makespan,
      status: 'failed',
      done: 0,
      failure: 'refused by the verifier',
    });

    const { warnings, logger } = recordingLogger();
    const broken = planRecorder(
      { recordPlan: () => Promise.reject(new Error('bucket gone')), lastPlan: async () => undefined },
      'ctl',
      logger,
    );
    broken.started('p3', plan, ExecutionMode.Barrier);
    await broken.flushed();
    expect(warnings).toEqual([
      {
        obj: { planId: 'p3', status: 'running', err: 'bucket gone' },
        msg: 'cannot record the plan in the queue store',
      },
    ]);
  });
});

describe('closeInterruptedPlan', () => {
  it('marks a plan still recorded as running interrupted and warns; leaves an ended one alone', async () => {
    const store = new MemoryQueueStore();
    const { warnings, logger } = recordingLogger();
    expect(await closeInterruptedPlan(store, logger)).toBeUndefined();
    const running = {
      planId: 'cut',
      status: 'running',
      controller: 'old',
      mode: 'barrier',
      actions: 42,
      steps: 5,
      estimatedMs: 4620,
      startedAt: 1000,
    } as const;
    await store.recordPlan(running);
    expect(await closeInterruptedPlan(store, logger, undefined, undefined, () => 5000)).toEqual({
      ...running,
      status: 'interrupted',
      endedAt: 5000,
    });
    expect(await store.lastPlan()).toMatchObject({ planId: 'cut', status: 'interrupted', endedAt: 5000 });
    expect(warnings).toHaveLength(1);
    expect(warnings[0]!.obj).toMatchObject({ planId: 'cut', controller: 'old', actions: 42 });
    expect(await closeInterruptedPlan(store, logger)).toBeUndefined();
    expect(warnings).toHaveLength(1);
  });

  it("reads the interrupted plan's journal: the actions done, failed, and sent without a result", async () => {
    const store = new MemoryQueueStore();
    const journal = new MemoryJournal();
    const { warnings, logger } = recordingLogger();
    await store.recordPlan({
      planId: 'cut',
      status: 'running',
      controller: 'old',
      mode: 'barrier',
      actions: 3,
      steps: 2,
      estimatedMs: 100,
      startedAt: 1,
    });
    await journal.append([
      {
        kind: 'plan',
        planId: 'cut',
        controller: 'old',
        mode: 'barrier',
        actions: 3,
        decision: { j: 'running' },
        at: 1,
      },
      { kind: 'intent', planId: 'cut', actionId: 'cut:a1', node: 'n1', type: 'resume', vm: 'v1', vjob: 'j', at: 2 },
      { kind: 'intent', planId: 'cut', actionId: 'cut:a2', node: 'n2', type: 'resume', vm: 'v2', vjob: 'j', at: 2 },
      { kind: 'result', planId: 'cut', actionId: 'cut:a1', ok: true, at: 3 },
      { kind: 'intent', planId: 'cut', actionId: 'cut:a3', node: 'n1', type: 'unpause', vm: 'v1', vjob: 'j', at: 4 },
      { kind: 'result', planId: 'cut', actionId: 'cut:a3', ok: false, code: 'X', at: 5 },
    ]);
    const asked: [string, readonly string[]][] = [];
    const lookup = async (node: string, ids: readonly string[]) => {
      asked.push([node, ids]);
      return ids.map((actionId) => ({
        actionId,
        status: 'done' as const,
        result: { actionId, node, ok: true, durationMs: 5, state: 'paused' as const, host: node },
      }));
    };
    expect(await closeInterruptedPlan(store, logger, journal, lookup, () => 9)).toMatchObject({
      status: 'interrupted',
      done: 1,
      failed: 1,
    });
    expect(asked).toEqual([['n2', ['cut:a2']]]);
    expect(warnings[0]!.obj).toMatchObject({
      planId: 'cut',
      sent: 3,
      done: 1,
      failed: 1,
      inFlight: ['resume v2 on n2: done'],
      inFlightCount: 1,
    });
    expect((await journal.read('cut')).at(-1)).toMatchObject({
      kind: 'result',
      actionId: 'cut:a2',
      ok: true,
      via: 'ledger',
      state: 'paused',
    });
  });
});
