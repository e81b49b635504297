import type { StatusReply } from '@entropy/protocol';
import type { MonitorView } from '../monitor/index.ts';
import type { NodePowerRecord } from '../queue/queue-store.ts';

type StatusVM = StatusReply['vms'][number];
type StatusExcluded = StatusReply['excluded'][number];

/**
 * The reply to `entropy status`: the monitor's view of nodes and VMs, and the plan running, if any.
 * Built field by field: one object per VM of the cluster, 100,000 of them on a large one. With the
 * nodes' power records: each node's wanted state, and the nodes powered off that no agent reports
 * (since a controller restart), offline.
 */
export function statusReplyOf(
  view: MonitorView,
  controller: string,
  runningPlan?: string,
  power: ReadonlyMap<string, NodePowerRecord> = new Map(),
): StatusReply {
  const vms = view.configuration.vms.map((v) => {
    const vm: StatusVM = { id: v.id, vjob: v.vjob, state: v.state, demand: v.demand };
    if (v.host) vm.host = v.host;
    return vm;
  });
  const excluded = view.excluded.map((e) => {
    const x: StatusExcluded = { vm: e.vm, reason: e.reason };
    if (e.vjob !== undefined) x.vjob = e.vjob;
    if (e.node !== undefined) x.node = e.node;
    return x;
  });
  const nodes: StatusReply['nodes'] = view.nodes.map((n) => {
    const r = power.get(n.id);
    return r?.wanted !== undefined || r?.drained
      ? { ...n, ...(r.wanted !== undefined ? { wanted: r.wanted } : {}), ...(r.drained ? { drained: true } : {}) }
      : { ...n };
  });
  for (const [id, r] of power) {
    if (r.poweredOff === undefined || nodes.some((n) => n.id === id)) continue;
    nodes.push({
      id,
      liveness: 'offline',
      driver: '',
      capacity: { ...r.poweredOff.capacity },
      lastSeen: r.poweredOff.at,
      vms: 0,
      inFlight: 0,
      poweredOff: true,
      ...(r.wanted ? { wanted: r.wanted } : {}),
      ...(r.drained ? { drained: true } : {}),
    });
  }
  nodes.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const reply: StatusReply = { controller, ts: view.at, nodes, vms, excluded };
  if (runningPlan !== undefined) reply.running = runningPlan;
  return reply;
}
