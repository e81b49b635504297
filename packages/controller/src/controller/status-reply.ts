import type { StatusReply } from '@entropy/protocol';
import type { MonitorView } from '../monitor/index.ts';

/** The reply to `entropy status`: the monitor's view of nodes and VMs, and the plan running, if any. */
export function statusReplyOf(view: MonitorView, controller: string, runningPlan?: string): StatusReply {
  return {
    controller,
    ts: view.at,
    nodes: view.nodes.map((n) => ({ ...n })),
    vms: view.configuration.vms.map((v) => ({ id: v.id, vjob: v.vjob, state: v.state, demand: v.demand, ...(v.host ? { host: v.host } : {}) })),
    excluded: view.excluded.map((e) => ({ ...e })),
    ...(runningPlan !== undefined ? { running: runningPlan } : {}),
  };
}
