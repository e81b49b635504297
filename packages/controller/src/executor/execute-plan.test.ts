import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { ActionRequest, ActionResult } from '@entropy/protocol';
import { barrierMakespan, contextSwitch, type FeasiblePlan, type Instance, parseInstance } from '@entropy/engine';
import type { ExecutorEvent } from './events.ts';
import { executePlan, type ExecuteOptions } from './execute-plan.ts';
import { MemoryTransport, type MemoryTransportOptions } from './memory-transport.ts';

const reference = parseInstance(
  JSON.parse(readFileSync(resolve(import.meta.dirname, '../../../../examples/reference.json'), 'utf8')),
);

function planOf(instance: Instance): FeasiblePlan {
  const plan = contextSwitch(instance.configuration, instance.decision, instance.costModel);
  if (!plan.feasible) throw new Error(plan.reason);
  return plan;
}

type FakeOptions = MemoryTransportOptions | ((plan: FeasiblePlan) => MemoryTransportOptions);

async function run(instance: Instance, fake: FakeOptions = {}, options: Partial<ExecuteOptions> = {}) {
  const plan = planOf(instance);
  const transport = new MemoryTransport(instance.configuration, {
    timeScale: 0.002,
    ...(typeof fake === 'function' ? fake(plan) : fake),
  });
  const events: ExecutorEvent[] = [];
  const outcome = await executePlan(plan, {
    planId: 'p1',
    configuration: instance.configuration,
    decision: instance.decision,
    transport,
    onEvent: (e) => events.push(e),
    ...options,
  });
  return { plan, transport, events, outcome };
}

/**
 * Fails when a vjob has VMs running and paused at once while none of its pauses or unpauses is in
 * flight: a pause step takes some time on several nodes, but between steps a vjob is whole.
 */
function expectNeverHalfPaused(transport: MemoryTransport, instance: Instance) {
  const state = new Map(instance.configuration.vms.map((v) => [v.id, v.state as string]));
  const vjobOf = new Map(instance.configuration.vms.map((v) => [v.id, v.vjob]));
  const gang = transport.sends.filter((s) => s.type === 'pause' || s.type === 'unpause');
  const changes = new Map(transport.transitions.map((t) => [t.seq, t]));
  const last = Math.max(...transport.sends.map((s) => s.repliedSeq ?? 0), ...changes.keys());
  // States change only at transitions: check there (between a reply and the next send of the same tick, nothing can happen).
  for (let seq = 0; seq <= last; seq++) {
    const t = changes.get(seq);
    if (!t) continue;
    state.set(t.vm, t.state);
    for (const vjob of new Set(vjobOf.values())) {
      if (gang.some((s) => s.vjob === vjob && s.sentSeq <= seq && (s.repliedSeq ?? Infinity) > seq)) continue;
      const states = new Set([...state].filter(([vm]) => vjobOf.get(vm) === vjob).map(([, st]) => st));
      expect(states.has('running') && states.has('paused'), `vjob ${vjob} half paused at seq ${seq}`).toBe(false);
    }
  }
}

describe('executePlan in barrier mode', () => {
  it('sends no action of a step before every result of the previous step, and reaches the plan target', async () => {
    const { plan, transport, outcome } = await run(reference);
    expect(outcome.status).toBe('completed');
    expect(outcome.completed).toHaveLength(plan.actions.length);
    const stepOf = new Map(plan.actions.map((a) => [`p1:${a.id}`, a.step]));
    for (const later of transport.sends)
      for (const earlier of transport.sends)
        if (stepOf.get(earlier.wireId)! < stepOf.get(later.wireId)!)
          expect(earlier.repliedSeq!).toBeLessThan(later.sentSeq);
    for (const [vm, want] of Object.entries(plan.target)) expect(transport.stateOf(vm), vm).toMatchObject(want);
    expect(outcome.observed.vms.filter((v) => v.state !== 'terminated').map((v) => [v.id, v.state, v.host])).toEqual(
      Object.entries(plan.target)
        .map(([id, t]) => [id, t.state, t.host])
        .sort(),
    );
  });

  it("sends a vjob's pauses together, before any of them is answered, and never leaves a vjob half paused", async () => {
    const { transport } = await run(reference);
    const pauses = transport.sends.filter((s) => s.type === 'pause' && s.vjob === 'j1');
    expect(pauses).toHaveLength(9);
    expect(Math.max(...pauses.map((s) => s.sentSeq))).toBeLessThan(Math.min(...pauses.map((s) => s.repliedSeq!)));
    const unpauses = transport.sends.filter((s) => s.type === 'unpause' && s.vjob === 'j3');
    expect(Math.max(...unpauses.map((s) => s.sentSeq))).toBeLessThan(Math.min(...unpauses.map((s) => s.repliedSeq!)));
    expectNeverHalfPaused(transport, reference);
  });

  it('reports progress: plan-started first, one step-started and step-done per step, plan-done last with counts', async () => {
    const { plan, events } = await run(reference);
    // Step by step, the estimate is each step's longest action, summed: more than the timed makespan here.
    expect(events[0]).toMatchObject({
      kind: 'plan-started',
      planId: 'p1',
      steps: plan.steps,
      estimatedMs: barrierMakespan(plan.actions),
    });
    expect(barrierMakespan(plan.actions)).toBeGreaterThan(plan.makespan);
    expect(events.at(-1)).toMatchObject({
      kind: 'plan-done',
      counts: { total: plan.actions.length, done: plan.actions.length, failed: 0, running: 0 },
    });
    expect(events.filter((e) => e.kind === 'step-started').map((e) => (e as { step: number }).step)).toEqual([
      ...Array(plan.steps).keys(),
    ]);
    expect(events.filter((e) => e.kind === 'step-done')).toHaveLength(plan.steps);
    expect(events.filter((e) => e.kind === 'action-done')).toHaveLength(plan.actions.length);
  });
});

describe('executePlan in ASAP mode', () => {
  it('starts each action once all its dependencies are done, without waiting for the whole step', async () => {
    const { plan, transport, outcome } = await run(reference, { timeScale: 0.02 }, { mode: 'asap' });
    expect(outcome.status).toBe('completed');
    const byId = new Map(transport.sends.map((s) => [s.wireId, s]));
    for (const a of plan.actions)
      for (const d of a.dependsOn)
        expect(byId.get(`p1:${d}`)!.repliedSeq!, `${a.id} after ${d}`).toBeLessThan(byId.get(`p1:${a.id}`)!.sentSeq);
    // Some action starts while an action of an earlier step still runs: no barrier between steps.
    const stepOf = new Map(plan.actions.map((a) => [`p1:${a.id}`, a.step]));
    const overlaps = transport.sends.some((later) =>
      transport.sends.some(
        (earlier) => stepOf.get(earlier.wireId)! < stepOf.get(later.wireId)! && earlier.repliedSeq! > later.sentSeq,
      ),
    );
    expect(overlaps).toBe(true);
    expectNeverHalfPaused(transport, reference);
    for (const [vm, want] of Object.entries(plan.target)) expect(transport.stateOf(vm), vm).toMatchObject(want);
  });

  it("waits for all of a vjob's pauses before any of its saves", async () => {
    const { transport } = await run(reference, { timeScale: 0.02 }, { mode: 'asap' });
    const lastPause = Math.max(
      ...transport.sends.filter((s) => s.type === 'pause' && s.vjob === 'j1').map((s) => s.repliedSeq!),
    );
    const firstSuspend = Math.min(
      ...transport.sends.filter((s) => s.type === 'suspend' && s.vjob === 'j1').map((s) => s.sentSeq),
    );
    expect(lastPause).toBeLessThan(firstSuspend);
  });
});

describe('executePlan on a failure', () => {
  it('stops starting actions, lets running ones finish, unpauses the VMs of a half-paused vjob and records it all', async () => {
    const { plan, transport, outcome, events } = await run(reference, { failOn: ['j1-vm5'] });
    expect(outcome.status).toBe('failed');
    expect(outcome.failed).toMatchObject({
      action: { type: 'pause', vm: 'j1-vm5' },
      error: { code: 'ENTROPY_INJECTED_FAILURE' },
      uncertain: false,
    });
    const failedAt = transport.sends.find((s) => s.vm === 'j1-vm5')!.repliedSeq!;
    const planned = transport.sends.filter((s) => !s.wireId.startsWith('p1:undo-'));
    expect(planned.filter((s) => s.sentSeq > failedAt)).toEqual([]);
    // Step 0 ran to its end: migrations and resumes finished although the pause failed.
    const step0 = plan.actions.filter((a) => a.step === 0);
    expect(outcome.completed.map((c) => c.action.id).sort()).toEqual(
      step0
        .filter((a) => a.vm !== 'j1-vm5')
        .map((a) => a.id)
        .sort(),
    );
    expect(outcome.notStarted.map((a) => a.id).sort()).toEqual(
      plan.actions
        .filter((a) => a.step > 0)
        .map((a) => a.id)
        .sort(),
    );
    // The 8 VMs of j1 that were paused are unpaused; j1 runs whole again.
    expect(outcome.undone.map((u) => u.vm).sort()).toEqual([
      'j1-vm1',
      'j1-vm2',
      'j1-vm3',
      'j1-vm4',
      'j1-vm6',
      'j1-vm7',
      'j1-vm8',
      'j1-vm9',
    ]);
    expect(outcome.undone.every((u) => u.ok)).toBe(true);
    expect([...transport.vjobStates().get('j1')!]).toEqual(['running']);
    expect(outcome.observed.vms.filter((v) => v.vjob === 'j1').every((v) => v.state === 'running')).toBe(true);
    // The VMs resumed in step 0 wait paused for an unpause that never came: reported.
    const resumed = step0
      .filter((a) => a.type === 'resume')
      .map((a) => a.vm)
      .sort();
    expect(resumed.length).toBeGreaterThan(0);
    expect(outcome.leftPaused).toEqual(resumed);
    expect(events.at(-1)).toMatchObject({ kind: 'plan-failed', counts: { failed: 1 } });
    expect(events.filter((e) => e.kind === 'action-done' && e.undo)).toHaveLength(8);
    // Undone as soon as j1's pause step ended, while other actions of step 0 still ran.
    const lastUndo = Math.max(...transport.sends.filter((x) => x.wireId.startsWith('p1:undo-')).map((x) => x.sentSeq));
    expect(lastUndo).toBeLessThan(
      Math.max(...transport.sends.filter((x) => !x.wireId.startsWith('p1:undo-')).map((x) => x.repliedSeq!)),
    );
    expectNeverHalfPaused(transport, reference);
  });

  it('in ASAP mode too: a failed pause stops new starts and the rest of the vjob is unpaused', async () => {
    const { transport, outcome } = await run(reference, { failOn: ['j1-vm5'], timeScale: 0.02 }, { mode: 'asap' });
    expect(outcome.status).toBe('failed');
    expect(outcome.failed).toMatchObject({ action: { type: 'pause', vm: 'j1-vm5' } });
    expect(outcome.undone.filter((u) => u.ok)).toHaveLength(8);
    expect([...transport.vjobStates().get('j1')!]).toEqual(['running']);
    expect(transport.sends.some((s) => s.type === 'suspend' && s.vjob === 'j1')).toBe(false);
    expectNeverHalfPaused(transport, reference);
  });

  it('times out an action that never answers, and leaves its VM out of the observed configuration', async () => {
    // An action of the first step that is not one of j1's pauses: j1 is paused whole when it hangs.
    const hung = (plan: FeasiblePlan) => plan.actions.find((a) => a.step === 0 && a.vjob !== 'j1')!;
    const { plan, outcome } = await run(reference, (p) => ({ hangOn: [hung(p).id] }), {
      timeouts: { factor: 0, floorMs: 150, graceMs: 50 },
    });
    expect(outcome.status).toBe('failed');
    expect(outcome.failed).toMatchObject({
      action: { id: hung(plan).id },
      error: { code: 'ENTROPY_ACTION_TIMEOUT' },
      uncertain: true,
    });
    expect(outcome.failed!.elapsedMs).toBeGreaterThanOrEqual(190);
    expect(outcome.uncertainVms).toEqual([hung(plan).vm]);
    expect(outcome.observed.vms.some((v) => v.id === hung(plan).vm)).toBe(false);
    // No save of j1 started: its nine pauses are undone.
    expect(outcome.undone.map((u) => u.vjob)).toEqual(Array(9).fill('j1'));
  });

  it('retries a transient transport error with the same action id', async () => {
    const { transport, outcome } = await run(
      reference,
      { transientFailures: { a1: 2 } },
      { timeouts: { retryDelayMs: 5 } },
    );
    expect(outcome.status).toBe('completed');
    const a1 = transport.sends.filter((s) => s.wireId === 'p1:a1');
    expect(a1).toHaveLength(3);
    expect(outcome.completed.find((c) => c.action.id === 'a1')!.attempts).toBe(3);
  });

  it("sends each action's own nonce, from a secret of the plan, the same on its retries, and fails an action whose result is another node's or lacks it", async () => {
    const byPlan: Map<string, Set<string | undefined>>[] = [];
    for (const forge of [
      (r: ActionResult) => ({ ...r, node: 'n99' }),
      (r: ActionResult) => ({ ...r, nonce: 'guessed-nonce' }),
    ]) {
      const transport = new MemoryTransport(reference.configuration, {
        timeScale: 0.002,
        transientFailures: { a2: 1 },
      });
      const nonces = new Map<string, Set<string | undefined>>();
      const send = transport.send.bind(transport);
      // The answer of the first action is forged; the others are the agents'.
      transport.send = (req, options) => {
        nonces.set(req.actionId, (nonces.get(req.actionId) ?? new Set()).add(req.nonce));
        return send(req, options).then((r) => (req.actionId === 'p1:a1' ? forge(r) : r));
      };
      const outcome = await executePlan(planOf(reference), {
        planId: 'p1',
        configuration: reference.configuration,
        decision: reference.decision,
        transport,
        timeouts: { retryDelayMs: 5 },
      });
      expect(outcome.status).toBe('failed');
      expect(outcome.failures.find((f) => f.wireId === 'p1:a1')?.error.code).toBe('ENTROPY_BAD_RESULT');
      expect(transport.sends.filter((x) => x.wireId === 'p1:a2')).toHaveLength(2);
      for (const set of nonces.values()) expect([...set]).toEqual([expect.stringMatching(/^[A-Za-z0-9_-]{22}$/)]);
      const all = [...nonces.values()].flatMap((set) => [...set]);
      expect(new Set(all).size).toBe(all.length);
      byPlan.push(nonces);
    }
    expect([...byPlan[0]!.get('p1:a1')!][0]).not.toBe([...byPlan[1]!.get('p1:a1')!][0]);
  });

  it('stops cleanly when the caller aborts between steps', async () => {
    const controller = new AbortController();
    const { outcome, transport } = await run(
      reference,
      {},
      {
        signal: controller.signal,
        onEvent: (e) => e.kind === 'step-done' && e.step === 1 && controller.abort(new Error('operator stop')),
      },
    );
    expect(outcome.status).toBe('aborted');
    expect(outcome.abortReason).toBe('operator stop');
    expect(outcome.failures).toEqual([]);
    expect(outcome.notStarted.every((a) => a.step >= 2)).toBe(true);
    expect(outcome.notStarted.length).toBeGreaterThan(0);
    // j1 had started saving: nothing to undo.
    expect(outcome.undone).toEqual([]);
    expectNeverHalfPaused(transport, reference);
  });
});

describe('executePlan against the cluster as it is', () => {
  it('stops a stale plan before sending anything to a VM that moved behind its back, in both modes', async () => {
    for (const mode of ['barrier', 'asap'] as const) {
      const plan = planOf(reference);
      // A VM of the plan's third step, not acted on before: an operator migrated it elsewhere meanwhile.
      const later = plan.actions.find((a) => a.step === 2 && a.type === 'migrate')!;
      const source = reference.configuration.vms.find((v) => v.id === later.vm)!;
      const observe = (vms: readonly string[]) =>
        new Map(
          vms.flatMap((vm) => {
            const v = reference.configuration.vms.find((x) => x.id === vm)!;
            const moved =
              vm === later.vm
                ? { state: 'running' as const, host: 'elsewhere' }
                : v.host !== undefined
                  ? { state: v.state, host: v.host }
                  : { state: v.state };
            return v.state === 'waiting' && vm !== later.vm ? [] : [[vm, moved] as const];
          }),
        );
      const { outcome, transport } = await run(reference, {}, { mode, observe });
      expect(outcome.status, mode).toBe('stale');
      expect(outcome.staleReason).toBe(
        `VM ${later.vm} is running on elsewhere, the plan expects it running on ${source.host}`,
      );
      expect(transport.sends.some((x) => x.vm === later.vm)).toBe(false);
      expect(outcome.failures).toEqual([]);
    }
  });

  it('journals every intent before its action is sent and every result after; sends the fencing token', async () => {
    const order: string[] = [];
    const tokens = new Set<number | undefined>();
    const journal = {
      intents: async (actions: readonly { request: { actionId: string; token?: number } }[]) => {
        for (const a of actions) {
          order.push(`intent ${a.request.actionId}`);
          tokens.add(a.request.token);
        }
      },
      result: (request: { actionId: string }, r: { ok: boolean }) =>
        void order.push(`result ${request.actionId} ${r.ok}`),
    };
    const { plan, transport, outcome } = await run(reference, {}, { journal, token: 42 });
    expect(outcome.status).toBe('completed');
    expect(tokens).toEqual(new Set([42]));
    for (const a of plan.actions) {
      const id = `p1:${a.id}`;
      expect(order.indexOf(`intent ${id}`)).toBeGreaterThanOrEqual(0);
      expect(order.indexOf(`result ${id} true`)).toBeGreaterThan(order.indexOf(`intent ${id}`));
    }
    expect(transport.sends).toHaveLength(plan.actions.length);
  });

  it("journals a vjob's pause intents in one append, so that its pauses leave together", async () => {
    const appends: string[][] = [];
    const journal = {
      intents: async (actions: readonly { request: { actionId: string } }[]) =>
        void appends.push(actions.map((a) => a.request.actionId)),
      result: () => {},
    };
    const { plan, outcome } = await run(reference, {}, { journal });
    expect(outcome.status).toBe('completed');
    const pauses = new Map<string, string[]>();
    for (const a of plan.actions)
      if (a.type === 'pause') pauses.set(a.vjob, [...(pauses.get(a.vjob) ?? []), `p1:${a.id}`]);
    expect(pauses.size).toBeGreaterThan(0);
    for (const ids of pauses.values()) expect(appends).toContainEqual(expect.arrayContaining(ids));
  });

  it("gives a vjob's pauses and unpauses one start deadline, groupLeadMs ahead of their sending; other actions none", async () => {
    const plan = planOf(reference);
    const transport = new MemoryTransport(reference.configuration, { timeScale: 0.002 });
    const sent: ActionRequest[] = [];
    const send = transport.send.bind(transport);
    transport.send = (req, o) => {
      sent.push(req);
      return send(req, o);
    };
    const before = performance.timeOrigin + performance.now();
    const outcome = await executePlan(plan, {
      planId: 'p1',
      configuration: reference.configuration,
      decision: reference.decision,
      transport,
      groupLeadMs: 30,
    });
    expect(outcome.status).toBe('completed');
    for (const type of ['pause', 'unpause'] as const) {
      const byVjob = new Map<string, Set<number | undefined>>();
      for (const r of sent.filter((x) => x.type === type))
        byVjob.set(r.vjob, (byVjob.get(r.vjob) ?? new Set()).add(r.notBefore));
      expect(byVjob.size).toBeGreaterThan(0);
      for (const deadlines of byVjob.values()) {
        expect(deadlines.size).toBe(1);
        expect([...deadlines][0]).toBeGreaterThanOrEqual(before + 30);
      }
    }
    expect(sent.filter((x) => x.type !== 'pause' && x.type !== 'unpause').every((x) => x.notBefore === undefined)).toBe(
      true,
    );
  });

  it('sends no action whose intent cannot be journaled, and fails it', async () => {
    const journal = {
      intents: async () => {
        throw new Error('stream unavailable');
      },
      result: () => {},
    };
    const { outcome, transport } = await run(reference, {}, { journal });
    expect(outcome.status).toBe('failed');
    expect(outcome.failed?.error).toMatchObject({
      code: 'ENTROPY_JOURNAL',
      message: expect.stringContaining('stream unavailable'),
    });
    expect(transport.sends).toEqual([]);
  });
});

describe('executePlan refuses', () => {
  it('a plan that fails the verifier, with ENTROPY_PLAN_REFUSED and the violation, before sending anything', async () => {
    const plan = planOf(reference);
    const broken: FeasiblePlan = { ...plan, actions: plan.actions.filter((a) => a.id !== 'a1') };
    const transport = new MemoryTransport(reference.configuration);
    const attempt = executePlan(broken, {
      planId: 'p1',
      configuration: reference.configuration,
      decision: reference.decision,
      transport,
    });
    await expect(attempt).rejects.toMatchObject({
      name: 'PlanRefusedError',
      code: 'ENTROPY_PLAN_REFUSED',
      violation: { kind: expect.any(String) },
    });
    expect(transport.sends).toEqual([]);
  });

  it('a plan with node power actions when it was given no NodePower', async () => {
    const plan = {
      ...planOf(reference),
      nodeActions: [{ id: 'b1', type: 'bootNode' as const, node: 'n01', start: 0, end: 1, step: 0, dependsOn: [] }],
    };
    const transport = new MemoryTransport(reference.configuration);
    const attempt = executePlan(plan, {
      planId: 'p1',
      configuration: reference.configuration,
      decision: reference.decision,
      transport,
    });
    await expect(attempt).rejects.toMatchObject({ code: 'ENTROPY_PLAN_UNSUPPORTED' });
    expect(transport.sends).toEqual([]);
  });

  it('a plan id that cannot be a subject token', async () => {
    const plan = planOf(reference);
    const attempt = executePlan(plan, {
      planId: 'p.1',
      configuration: reference.configuration,
      decision: reference.decision,
      transport: new MemoryTransport(reference.configuration),
    });
    await expect(attempt).rejects.toMatchObject({ code: 'ENTROPY_INVALID_PLAN_ID' });
  });
});
