import { describe, expect, it } from 'vitest';
import { costModelWith } from '@entropy/engine';
import type { MonitorView } from '../monitor/index.ts';
import type { ReconcileResult } from '../reconcile/reconcile.ts';
import type { ReconcileLoop, TurnRequest } from '../reconcile/reconcile-loop.ts';
import { applyRequest } from './apply-request.ts';

const view: MonitorView = {
  at: 0,
  configuration: {
    nodes: [{ id: 'n1', state: 'online', capacity: { cpu: 2, mem: 4096 } }],
    vms: [{ id: 'v1', vjob: 'j1', state: 'waiting', demand: { cpu: 1, mem: 512 } }],
    vjobs: [{ id: 'j1', vms: ['v1'], priority: 0, submittedAt: 0 }],
  },
  nodes: [],
  excluded: [],
  usage: {},
};

/** A loop that records the turns asked of it and plans nothing. */
function fakeLoop(turns: TurnRequest[]): ReconcileLoop {
  const result = {
    outcome: 'no-change',
    configuration: view.configuration,
    decision: {},
    wanted: new Map(),
    observed: new Map(),
    deferred: [],
    held: [],
    reasons: [],
  } as unknown as ReconcileResult;
  return {
    trigger: () => {},
    turnNow: async (request) => {
      turns.push(request);
      return { ok: true, result, executing: false };
    },
    running: () => undefined,
    idle: async () => {},
    failures: () => {
      throw new Error('unused');
    },
    nodeRequested: () => {},
    rememberMoves: () => {},
    runReviewed: async () => ({ ok: false, busy: 'unused' }),
    proposals: () => ({ pending: [], rejected: [] }),
    approve: async () => ({ ok: false, busy: 'unused' }),
    reject: () => false,
    lastTurn: () => undefined,
    close: async () => {},
  };
}

describe('applyRequest and the cost model', () => {
  const controllerModel = costModelWith({ run: { base: 3000 }, migrate: { perMiB: 2 } });

  it("plans a request without overrides with the controller's model (the loop's), and applies a request's overrides over the controller's model", async () => {
    const turns: TurnRequest[] = [];
    const deps = { loop: fakeLoop(turns), freshView: async () => view, costModel: controllerModel };
    await applyRequest(deps, { planId: 'p1', decision: { j1: 'running' } });
    expect(turns[0]!.costModel).toBeUndefined();
    await applyRequest(deps, {
      planId: 'p2',
      decision: { j1: 'running' },
      costModel: { run: { base: 100 }, nodes: { n1: { migrate: { base: 7 } } } },
    });
    expect(turns[1]!.costModel).toEqual(
      costModelWith({ run: { base: 100 }, nodes: { n1: { migrate: { base: 7 } } } }, controllerModel),
    );
    expect(turns[1]!.costModel!.migrate).toEqual({ base: 0, perMiB: 2 });
    expect(turns[1]!.costModel!.nodes!.n1!.migrate).toEqual({ base: 7, perMiB: 2 });
  });
});

describe("applyRequest and an instance file's constraints", () => {
  it('gives them to the turn it asks for, as written (the turn resolves their ids against the cluster)', async () => {
    const turns: TurnRequest[] = [];
    const deps = { loop: fakeLoop(turns), freshView: async () => view };
    const reply = await applyRequest(deps, {
      planId: 'p1',
      decision: { j1: 'running' },
      constraints: [{ type: 'ban', vjob: 'j1', nodes: ['n2'] }],
    });
    expect(reply.ok).toBe(true);
    expect(turns[0]!.constraints).toEqual([{ type: 'ban', vjob: 'j1', nodes: ['n2'] }]);
  });

  it('refuses a malformed constraint with its path, and asks for no turn', async () => {
    const turns: TurnRequest[] = [];
    const deps = { loop: fakeLoop(turns), freshView: async () => view };
    const reply = await applyRequest(deps, {
      planId: 'p1',
      decision: { j1: 'running' },
      constraints: [
        { type: 'spread', vjob: 'j1' },
        { type: 'fenc', vm: 'v1', nodes: ['n1'] },
      ],
    });
    expect(reply).toMatchObject({ ok: false, error: { code: 'ENTROPY_BAD_REQUEST', field: '$.constraints[1].type' } });
    expect(turns).toEqual([]);
  });
});
