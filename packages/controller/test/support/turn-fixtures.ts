import { type Configuration, DEFAULT_COST_MODEL, type Policy, type PolicyView, type VM } from '@entropy/engine';
import type { MonitorView, NodeView } from '../../src/monitor/index.ts';
import type { StoredVJob } from '../../src/queue/queue-store.ts';
import type { ReconcileInput } from '../../src/reconcile/reconcile.ts';

/** Turns of the control loop for the unit tests: VMs, a monitor's view of 4-cpu nodes, stored vjobs, a turn's input. */

export const vm = (id: string, vjob: string, state: VM['state'], host?: string, cpu = 1, mem = 1024): VM => ({
  id,
  vjob,
  state,
  demand: { cpu, mem },
  ...(host ? { host } : {}),
});

export function viewOf(vms: VM[], usage: MonitorView['usage'] = {}, nodeCount = 2): MonitorView {
  const vjobIds = [...new Set(vms.map((v) => v.vjob))];
  const ids = Array.from({ length: nodeCount }, (_, i) => `n${i + 1}`);
  const configuration: Configuration = {
    nodes: ids.map((id) => ({ id, capacity: { cpu: 4, mem: 4096 }, state: 'online' })),
    vms,
    vjobs: vjobIds.map((id, i) => ({
      id,
      vms: vms.filter((v) => v.vjob === id).map((v) => v.id),
      priority: 0,
      submittedAt: i,
    })),
  };
  const nodes: NodeView[] = ids.map((id) => ({
    id,
    liveness: 'online',
    driver: 'sim',
    capacity: { cpu: 4, mem: 4096 },
    lastSeen: 100,
    vms: 0,
    inFlight: 0,
  }));
  return { at: 100, configuration, nodes, excluded: [], usage };
}

export const stored = (id: string, over: Partial<StoredVJob> = {}): StoredVJob => ({
  id,
  priority: 0,
  submittedAt: 0,
  state: 'waiting',
  vms: [],
  ...over,
});

export function input(view: MonitorView, over: Partial<ReconcileInput> = {}): ReconcileInput {
  return {
    view,
    now: 1000,
    knownNodes: [],
    startedAt: 0,
    statusPeriodMs: 500,
    silenceMs: 1500,
    vjobs: [],
    failures: new Map(),
    busy: [],
    costModel: DEFAULT_COST_MODEL,
    intervalMs: 5000,
    ...over,
  };
}

export const runAll: Policy = {
  name: 'all',
  sizing: 'peak',
  decide: (pv: PolicyView) => Object.fromEntries(pv.queue.map((j) => [j.id, 'running'])),
};
