import type { StatusReply } from '@entropy/protocol';
import type { MonitorView } from '../monitor/index.ts';

type StatusVM = StatusReply['vms'][number];
type StatusExcluded = StatusReply['excluded'][number];

/**
 * The reply to `entropy status`: the monitor's view of nodes and VMs, and the plan running, if any.
 * Built field by field: one object per VM of the cluster, 100,000 of them on a large one.
 */
export function statusReplyOf(view: MonitorView, controller: string, runningPlan?: string): StatusReply {
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
  const reply: StatusReply = { controller, ts: view.at, nodes: view.nodes.map((n) => ({ ...n })), vms, excluded };
  if (runningPlan !== undefined) reply.running = runningPlan;
  return reply;
}
