import { describe, expect, it } from 'vitest';
import { type Configuration, verifyPlan, type VM } from '@entropy/engine';
import type { MonitorView, NodeView } from '../monitor/index.ts';
import { recordNodeFailures } from './node-wants.ts';
import { type ReconcileInput, reconcile, TurnOutcome } from './reconcile.ts';
import { reconcileInput } from '../../test/support/reconcile-input.ts';

const vm = (id: string, vjob: string, state: VM['state'], host?: string, cpu = 1, mem = 1024): VM => ({
  id,
  vjob,
  state,
  demand: { cpu, mem },
  ...(host ? { host } : {}),
});

/** n1..n3 online, n4 offline (known to the monitor), with these VMs. */
function viewOf(vms: VM[], liveness: Partial<Record<string, NodeView['liveness']>> = {}): MonitorView {
  const ids = ['n1', 'n2', 'n3', 'n4'];
  const live = (id: string) => liveness[id] ?? (id === 'n4' ? 'offline' : 'online');
  const configuration: Configuration = {
    nodes: ids.map((id) => ({
      id,
      capacity: { cpu: 4, mem: 4096 },
      state: live(id) === 'online' ? 'online' : 'offline',
    })),
    vms,
    vjobs: [...new Set(vms.map((v) => v.vjob))].map((id) => ({
      id,
      vms: vms.filter((v) => v.vjob === id).map((v) => v.id),
      priority: 0,
      submittedAt: 0,
    })),
  };
  const nodes: NodeView[] = ids.map((id) => ({
    id,
    liveness: live(id),
    driver: 'sim',
    capacity: { cpu: 4, mem: 4096 },
    lastSeen: 100,
    vms: 0,
    inFlight: 0,
  }));
  return { at: 100, configuration, nodes, excluded: [], usage: {} };
}

function input(view: MonitorView, nodes: ReconcileInput['nodes'], over: Partial<ReconcileInput> = {}): ReconcileInput {
  return reconcileInput(view, { ...(nodes ? { nodes } : {}), ...over });
}

const onN3 = [vm('v1', 'j1', 'running', 'n3'), vm('v2', 'j2', 'running', 'n3'), vm('v3', 'j3', 'running', 'n1')];

describe('reconcile: node states an operator wants', () => {
  it('evacuates a node wanted offline, then shuts it down after every VM left', () => {
    const r = reconcile(input(viewOf(onN3), { wanted: { n3: 'offline' } }));
    expect(r.outcome).toBe(TurnOutcome.Plan);
    expect(r.decision).toEqual({});
    const plan = r.plan!;
    expect(plan.actions.map((a) => `${a.type} ${a.vm} ${a.from}`).sort()).toEqual(['migrate v1 n3', 'migrate v2 n3']);
    expect(plan.nodeActions).toMatchObject([{ type: 'shutdownNode', node: 'n3' }]);
    expect([...plan.nodeActions![0]!.dependsOn].sort()).toEqual(plan.actions.map((a) => a.id).sort());
    expect(verifyPlan(r.configuration, r.decision, plan)).toEqual({ ok: true });
  });

  it('plans nothing for a node already in its wanted state, nor for one that said hello and has not reported yet', () => {
    expect(reconcile(input(viewOf(onN3), { wanted: { n4: 'offline', n1: 'online' } })).outcome).toBe(
      TurnOutcome.NoChange,
    );
    expect(reconcile(input(viewOf(onN3, { n4: 'pending' }), { wanted: { n4: 'online' } })).outcome).toBe(
      TurnOutcome.NoChange,
    );
  });

  it('boots a node wanted online, also one a plan powered off that no agent reports since a restart', () => {
    const known = reconcile(input(viewOf(onN3), { wanted: { n4: 'online' } }));
    expect(known.plan?.nodeActions).toMatchObject([{ type: 'bootNode', node: 'n4' }]);
    const view = viewOf(onN3);
    const lacking: MonitorView = {
      ...view,
      configuration: { ...view.configuration, nodes: view.configuration.nodes.filter((n) => n.id !== 'n4') },
      nodes: view.nodes.filter((n) => n.id !== 'n4'),
    };
    const r = reconcile(input(lacking, { wanted: { n4: 'online' }, poweredOff: { n4: { cpu: 8, mem: 2048 } } }));
    expect(r.plan?.nodeActions).toMatchObject([{ type: 'bootNode', node: 'n4' }]);
    expect(r.configuration.nodes.find((n) => n.id === 'n4')).toEqual({
      id: 'n4',
      capacity: { cpu: 8, mem: 2048 },
      state: 'offline',
    });
    const unknown = reconcile(input(lacking, { wanted: { n4: 'online' } }));
    expect(unknown.outcome).toBe(TurnOutcome.NoChange);
    expect(unknown.reasons).toEqual(['node n4 is wanted online, but no agent reports it and no plan powered it off']);
  });

  it('says why a node stays: the controller cannot boot, a VM left out of planning, a backoff, a give-up', () => {
    const cannot = reconcile(
      input(viewOf(onN3), {
        wanted: { n4: 'online' },
        unsupported: (s) => (s === 'online' ? 'no --boot-command' : undefined),
      }),
    );
    expect(cannot.outcome).toBe(TurnOutcome.NoChange);
    expect(cannot.reasons).toEqual(['node n4 is wanted online: no --boot-command']);

    const view = { ...viewOf(onN3), excluded: [{ vm: 'ghost', node: 'n3', reason: 'unmanaged' as const }] };
    expect(reconcile(input(view, { wanted: { n3: 'offline' } })).reasons).toEqual([
      'node n3 waits to go offline: VM ghost on it is left out of planning this turn',
    ]);

    const failed = recordNodeFailures(
      new Map(),
      [{ node: 'n4', to: 'online', final: false, error: 'bootNode n4: ENTROPY_BOOT_TIMEOUT no hello' }],
      900,
    );
    const backoff = reconcile(input(viewOf(onN3), { wanted: { n4: 'online' }, failures: failed }));
    expect(backoff.outcome).toBe(TurnOutcome.NoChange);
    expect(backoff.reasons[0]).toMatch(
      /^node n4 stays offline: bootNode n4: ENTROPY_BOOT_TIMEOUT no hello; retry 2\/3 after 1 s$/,
    );
    expect(backoff.requeueAfterMs).toBe(900);
    expect(
      reconcile(input(viewOf(onN3), { wanted: { n4: 'online' }, failures: failed }, { now: 2000 })).plan?.nodeActions,
    ).toHaveLength(1);

    const final = recordNodeFailures(
      new Map(),
      [{ node: 'n3', to: 'offline', final: true, error: 'shutdownNode n3: ENTROPY_NODE_NOT_EMPTY x9' }],
      900,
    );
    const givenUp = reconcile(input(viewOf(onN3), { wanted: { n3: 'offline' }, failures: final }, { now: 100_000 }));
    expect(givenUp.plan).toBeUndefined();
    expect(givenUp.reasons[0]).toMatch(/shutdown given up after 1 failure\(s\)/);
    // Wanted elsewhere, or reached: the failure no longer applies.
    expect(reconcile(input(viewOf(onN3), { wanted: { n3: 'online' }, failures: final })).nodeFailures?.size).toBe(0);
  });

  it('plans the vjobs alone, and says so, when the node cannot be evacuated', () => {
    const full = [
      vm('v1', 'j1', 'running', 'n3', 4, 4096),
      vm('f1', 'f', 'running', 'n1', 4, 4096),
      vm('f2', 'f', 'running', 'n2', 4, 4096),
      vm('q1', 'q', 'running', 'n1', 0, 0),
    ];
    const r = reconcile(input(viewOf(full), { wanted: { n3: 'offline' } }, { overlay: { q: 'terminated' } }));
    expect(r.outcome).toBe(TurnOutcome.Plan);
    expect(r.plan?.nodeActions).toBeUndefined();
    expect(r.plan?.actions.map((a) => `${a.type} ${a.vm}`)).toEqual(['stop q1']);
    expect(r.reasons[0]).toMatch(/^node power change put off: shutdown n3: /);
  });
});
