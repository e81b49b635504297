import { ControlErrorCode, decodeControl, encodeControl, type Logger, type NodeReply } from '@entropy/protocol';
import type { NodeState } from '@entropy/engine';
import type { MonitorView } from '../monitor/index.ts';
import type { NodePowerRecord } from '../queue/queue-store.ts';

export interface NodePowerRequestDeps {
  readonly logger: Logger;
  /** False while standing by: the request is refused, as apply is. */
  leading(): boolean;
  view(): MonitorView;
  /** The power records as the controller keeps them (the queue store's, cached). */
  records(): ReadonlyMap<string, NodePowerRecord>;
  /** Every node the cluster is known to have (reported once, or recorded). */
  knownNodes(): ReadonlySet<string>;
  /** Why this controller cannot take a node to `state`, or undefined. */
  unsupported(state: NodeState): string | undefined;
  /** Writes a node's power record (store and cache). */
  update(node: string, change: (current: NodePowerRecord | undefined) => NodePowerRecord | undefined): Promise<void>;
  /** Forgets the node's failed power actions and asks the loop for a turn. */
  requested(node: string): void;
}

/**
 * `entropy node boot|shutdown N` (`PREFIX.control.node`): records the state the operator wants the
 * node in, and asks the loop for a turn; the loop evacuates and shuts the node down, or boots it.
 * `online` is the normal state of a node: its record is dropped once the node is online again,
 * so the loop never boots a node that merely crashed. `offline` stays until `entropy node boot`.
 */
export async function nodePowerRequest(deps: NodePowerRequestDeps, data: Uint8Array): Promise<Uint8Array> {
  const refuse = (code: ControlErrorCode, message: string, field?: string) =>
    encodeControl('nodeReply', { ok: false, error: { code, message, ...(field ? { field } : {}) } });
  const r = decodeControl('nodeRequest', data);
  if (!r.ok) {
    deps.logger.warn({ ...r.error }, 'malformed node request');
    return refuse(ControlErrorCode.BadRequest, `${r.error.field}: ${r.error.reason}`, r.error.field);
  }
  if (!deps.leading()) return refuse(ControlErrorCode.Busy, 'this controller is not the leader (or is stopping)');
  const { node } = r.msg;
  const view = deps.view();
  const seen = view.nodes.find((n) => n.id === node);
  const record = deps.records().get(node);
  if (!seen && !record?.poweredOff && !deps.knownNodes().has(node)) {
    return refuse(
      ControlErrorCode.UnknownNode,
      `no node ${node}: no agent has reported it and no plan powered it off`,
      'node',
    );
  }
  if (r.msg.drain !== undefined) return drainRequest(deps, node, r.msg.drain, view, seen?.liveness ?? 'unknown');
  // The schema asks for exactly one of state and drain.
  const state = r.msg.state!;
  const why = deps.unsupported(state);
  if (why !== undefined)
    return refuse(
      ControlErrorCode.NodePowerUnsupported,
      `cannot ${state === 'online' ? 'boot' : 'shut down'} ${node}: ${why}`,
      'state',
    );
  // A node powered off before this controller started is offline, as status shows it.
  const liveness: Extract<NodeReply, { ok: true }>['liveness'] =
    seen?.liveness ?? (record?.poweredOff ? 'offline' : 'unknown');
  const online = liveness === 'online' && !seen?.poweredOff;
  // Wanted online and online already: nothing is wanted any more.
  await deps.update(node, (current) => {
    const { wanted: _before, ...rest } = current ?? {};
    return state === 'online' && online ? rest : { ...rest, wanted: state };
  });
  deps.requested(node);
  deps.logger.info({ node, wanted: state, liveness }, 'node state wanted by an operator');
  const vms = view.configuration.vms.filter((v) => v.host === node).map((v) => v.id);
  const note =
    state === 'online'
      ? online
        ? `${node} is online already`
        : undefined
      : liveness !== 'online'
        ? `${node} is ${liveness}: it is shut down when it reports again`
        : vms.length > 0
          ? `${vms.length} VM(s) move off ${node} first: ${vms.slice(0, 10).join(', ')}${vms.length > 10 ? ', ...' : ''}`
          : undefined;
  return encodeControl('nodeReply', { ok: true, node, wanted: state, liveness, ...(note ? { note } : {}) });
}

/**
 * `entropy node drain|undrain N`: records that no VM may run on the node (a `runningCapacity({N}, 0)`
 * constraint in every turn, turn-constraints.ts), or lifts it, and asks the loop for a turn. The
 * record is the node's power record in the queue store: it survives a controller restart.
 */
async function drainRequest(
  deps: NodePowerRequestDeps,
  node: string,
  drain: boolean,
  view: MonitorView,
  liveness: Extract<NodeReply, { ok: true }>['liveness'],
): Promise<Uint8Array> {
  await deps.update(node, (current) => {
    const { drained: _before, ...rest } = current ?? {};
    return drain ? { ...rest, drained: true } : rest;
  });
  deps.requested(node);
  deps.logger.info({ node, drained: drain, liveness }, drain ? 'node drained by an operator' : 'node drain lifted');
  const running = view.configuration.vms.filter((v) => v.host === node && v.state === 'running').map((v) => v.id);
  const note = drain
    ? running.length > 0
      ? `${running.length} VM(s) move off ${node}: ${running.slice(0, 10).join(', ')}${running.length > 10 ? ', ...' : ''}`
      : `${node} runs no VM; none will run there until undrained`
    : `VMs may run on ${node} again`;
  return encodeControl('nodeReply', { ok: true, node, drained: drain, liveness, note });
}
