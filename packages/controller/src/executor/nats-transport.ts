import { createInbox, type Msg, type NatsConnection, type Subscription } from '@nats-io/transport-node';
import {
  type ActionRequest,
  type ActionResult,
  decode,
  encodeTyped,
  executingNode,
  type Subjects,
} from '@entropy/protocol';
import { resultMismatch } from './result-check.ts';
import { NodeLostError, TransientTransportError, type ActionTransport, type SendOptions } from './transport.ts';

/** nats.js keeps the connection's options on the connection object, outside the NatsConnection interface. */
type ConnectionWithOptions = NatsConnection & { readonly options?: { readonly inboxPrefix?: string } };

export interface NatsTransportOptions {
  readonly subjects: Subjects;
  /** The monitor's verdict: a send to an offline node fails at once instead of waiting out its timeout. */
  readonly isOffline?: (node: string) => boolean;
  /** A reply that is not the answer to its request (another node's, another action's, without the plan's nonce): ignored, and told here. */
  readonly onRejected?: (rejected: {
    readonly node: string;
    readonly subject: string;
    readonly reason: string;
  }) => void;
}

export interface NatsTransport extends ActionTransport {
  /** Fails every pending send to the node (the monitor saw it go offline). */
  nodeLost(node: string): void;
  /**
   * Sends the pending requests again (to one node, or all), each with a new reply subject; the
   * first answer on any of them settles the request. An answer can be lost when a connection moves
   * to another server of a cluster: the agent's right to answer a request (allow_responses) lives
   * on the server that delivered it, and replies published while the controller was away reach
   * nobody. The agent answers a repeated action id from its ledger, never running it twice.
   */
  resend(node?: string): void;
}

interface Pending {
  readonly node: string;
  readonly request: ActionRequest;
  readonly data: Uint8Array;
  /** Every reply subject it was sent with. */
  readonly replies: string[];
  readonly resolve: (result: ActionResult) => void;
  readonly reject: (err: Error) => void;
}

/**
 * Request/reply on the executing node's action subject, one request per attempt. Replies come to
 * one inbox subscription of the transport, `<inbox>.<n>` per request: nats.js's `request` costs a
 * timer, a deferred and an Error (its stack captured) per call, which was a tenth of the
 * controller's time per step; here the executor's deadline (the send's signal) is the only timer.
 *
 * A reply settles its request only when it is the answer of the node the action was sent to: its
 * action id, its node and the plan's nonce (result-check.ts). Anything else on the inbox, whoever
 * could publish it there, is ignored and reported; the true answer may still come.
 */
export function natsTransport(nc: NatsConnection, options: NatsTransportOptions): NatsTransport {
  const s = options.subjects;
  const pending = new Map<string, Pending>();
  let inbox: string | undefined;
  let sub: Subscription | undefined;
  let next = 0;

  function settle(reply: string, outcome: { result: ActionResult } | { err: Error }): void {
    const p = pending.get(reply);
    if (!p) return;
    for (const r of p.replies) pending.delete(r);
    if ('result' in outcome) p.resolve(outcome.result);
    else p.reject(outcome.err);
  }

  /** A reply on the inbox: the answer of its request's node, or ignored. */
  function received(m: Msg): void {
    const p = pending.get(m.subject);
    if (!p) return;
    // nats-server answers a request nobody serves with an empty 503 status message.
    if (m.data.length === 0 && m.headers?.code === 503) {
      settle(m.subject, { err: new TransientTransportError(p.node, 'no responders') });
      return;
    }
    const r = decode('actionResult', m.data);
    const why = r.ok
      ? resultMismatch(p.request, p.node, r.msg)
      : `malformed result: ${r.error.field}: ${r.error.reason}`;
    if (r.ok && why === undefined) {
      settle(m.subject, { result: r.msg });
      return;
    }
    options.onRejected?.({ node: p.node, subject: m.subject, reason: why! });
  }

  function replies(): string {
    if (inbox !== undefined && sub !== undefined && !sub.isClosed()) return inbox;
    // Under the connection's own inbox prefix (`_INBOX.<user>`): the only one its permissions let it read.
    inbox = createInbox((nc as ConnectionWithOptions).options?.inboxPrefix);
    sub = nc.subscribe(`${inbox}.*`, { callback: (err, m) => void (err ? undefined : received(m)) });
    // Closed with the connection: retrying on it is useless.
    void sub.closed.then(() => {
      for (const [reply, p] of pending) settle(reply, { err: new Error(`${p.node}: connection closed`) });
    });
    return inbox;
  }

  function publish(p: Pending): void {
    const reply = `${replies()}.${next++}`;
    p.replies.push(reply);
    pending.set(reply, p);
    try {
      // While nats.js reconnects it buffers the request; it throws only when closed or draining.
      nc.publish(s.nodeAction(p.node), p.data, { reply });
    } catch (err) {
      settle(reply, { err: err as Error });
    }
  }

  return {
    async send(req: ActionRequest, { signal }: SendOptions): Promise<ActionResult> {
      const node = executingNode(req);
      if (options.isOffline?.(node)) throw new NodeLostError(node);
      if (nc.isClosed()) throw new Error(`${node}: connection closed`);
      // Not validated here: the agent validates every request and answers a bad one naming the field.
      let p: Pending | undefined;
      const onAbort = () =>
        p && settle(p.replies[0]!, { err: new TransientTransportError(node, 'abandoned by the executor') });
      try {
        return await new Promise<ActionResult>((resolve, reject) => {
          p = { node, request: req, data: encodeTyped<'actionRequest'>(req), replies: [], resolve, reject };
          signal.addEventListener('abort', onAbort, { once: true });
          if (signal.aborted) return reject(new TransientTransportError(node, 'abandoned by the executor'));
          publish(p);
        });
      } finally {
        signal.removeEventListener('abort', onAbort);
        for (const r of p?.replies ?? []) pending.delete(r);
      }
    },
    resend(node?: string) {
      const again = new Set<Pending>();
      for (const p of pending.values()) if (node === undefined || p.node === node) again.add(p);
      for (const p of again) if (!nc.isClosed()) publish(p);
    },
    nodeLost(node: string) {
      for (const [reply, p] of pending) if (p.node === node) settle(reply, { err: new NodeLostError(node) });
    },
  };
}
