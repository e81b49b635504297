import type { NatsConnection } from '../../packages/agent/src/index.ts';
import { type ActionResult, decode, encode, type NodeStatus, subjects } from '@entropy/protocol';

/** What a test playing the controller has seen of the agents. */
export interface PlayedController {
  /** Nodes whose hello was acknowledged, in order. */
  readonly hellos: string[];
  /** Every status received, with its arrival time (performance.now()). */
  readonly statuses: { readonly status: NodeStatus; readonly at: number }[];
  latest(node: string): NodeStatus | undefined;
  /** Sends encoded action request bytes to a node and decodes the result. */
  send(node: string, bytes: Uint8Array, timeoutMs?: number): Promise<ActionResult>;
}

/** The test acknowledges hellos and records every status, as a controller would; resolves once subscribed. */
export async function playController(nc: NatsConnection, prefix?: string): Promise<PlayedController> {
  const s = subjects(prefix);
  const hellos: string[] = [];
  const statuses: { status: NodeStatus; at: number }[] = [];
  const latest = new Map<string, NodeStatus>();
  void (async () => {
    for await (const m of nc.subscribe(s.allNodeHello())) {
      const r = decode('hello', m.data);
      if (r.ok) {
        hellos.push(r.msg.node);
        m.respond(encode('helloAck', { node: r.msg.node, by: 'test', ts: Date.now() }));
      }
    }
  })();
  void (async () => {
    for await (const m of nc.subscribe(s.allNodeStatus())) {
      const r = decode('status', m.data);
      if (!r.ok) continue;
      latest.set(r.msg.node, r.msg);
      statuses.push({ status: r.msg, at: performance.now() });
    }
  })();
  await nc.flush();
  return {
    hellos,
    statuses,
    latest: (node) => latest.get(node),
    async send(node, bytes, timeoutMs = 60_000) {
      const m = await nc.request(s.nodeAction(node), bytes, { timeout: timeoutMs });
      const r = decode('actionResult', m.data);
      if (!r.ok) throw new Error(`bad reply: ${JSON.stringify(r.error)}`);
      return r.msg;
    },
  };
}
