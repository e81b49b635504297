import { createInbox, type Msg, type NatsConnection, type Subscription } from '@nats-io/transport-node';
import { type ActionRequest, type ActionResult, decode, encodeTyped, executingNode, type Subjects } from '@entropy/protocol';
import { NodeLostError, TransientTransportError, type ActionTransport, type SendOptions } from './transport.ts';

/** nats.js keeps the connection's options on the connection object, outside the NatsConnection interface. */
type ConnectionWithOptions = NatsConnection & { readonly options?: { readonly inboxPrefix?: string } };

export interface NatsTransportOptions {
  readonly subjects: Subjects;
  /** The monitor's verdict: a send to an offline node fails at once instead of waiting out its timeout. */
  readonly isOffline?: (node: string) => boolean;
}

export interface NatsTransport extends ActionTransport {
  /** Fails every pending send to the node (the monitor saw it go offline). */
  nodeLost(node: string): void;
}

interface Pending {
  readonly node: string;
  readonly resolve: (m: Msg) => void;
  readonly reject: (err: Error) => void;
}

/**
 * Request/reply on the executing node's action subject, one request per attempt. Replies come to
 * one inbox subscription of the transport, `<inbox>.<n>` per request: nats.js's `request` costs a
 * timer, a deferred and an Error (its stack captured) per call, which was a tenth of the
 * controller's time per step; here the executor's deadline (the send's signal) is the only timer.
 */
export function natsTransport(nc: NatsConnection, options: NatsTransportOptions): NatsTransport {
  const s = options.subjects;
  const pending = new Map<string, Pending>();
  let inbox: string | undefined;
  let sub: Subscription | undefined;
  let next = 0;

  function settle(reply: string, outcome: { msg: Msg } | { err: Error }): void {
    const p = pending.get(reply);
    if (!p) return;
    pending.delete(reply);
    if ('msg' in outcome) p.resolve(outcome.msg);
    else p.reject(outcome.err);
  }

  function replies(): string {
    if (inbox !== undefined && sub !== undefined && !sub.isClosed()) return inbox;
    // Under the connection's own inbox prefix (`_INBOX.<user>`): the only one its permissions let it read.
    inbox = createInbox((nc as ConnectionWithOptions).options?.inboxPrefix);
    sub = nc.subscribe(`${inbox}.*`, {
      callback: (err, m) => {
        if (err) return;
        // nats-server answers a request nobody serves with an empty 503 status message.
        if (m.data.length === 0 && m.headers?.code === 503) settle(m.subject, { err: new TransientTransportError(pending.get(m.subject)?.node ?? '?', 'no responders') });
        else settle(m.subject, { msg: m });
      },
    });
    // Closed with the connection: retrying on it is useless.
    void sub.closed.then(() => {
      for (const [reply, p] of pending) settle(reply, { err: new Error(`${p.node}: connection closed`) });
    });
    return inbox;
  }

  return {
    async send(req: ActionRequest, { signal }: SendOptions): Promise<ActionResult> {
      const node = executingNode(req);
      if (options.isOffline?.(node)) throw new NodeLostError(node);
      if (nc.isClosed()) throw new Error(`${node}: connection closed`);
      // Not validated here: the agent validates every request and answers a bad one naming the field.
      const data = encodeTyped<'actionRequest'>(req);
      const reply = `${replies()}.${next++}`;
      const onAbort = () => settle(reply, { err: new TransientTransportError(node, 'abandoned by the executor') });
      try {
        const m = await new Promise<Msg>((resolve, reject) => {
          pending.set(reply, { node, resolve, reject });
          signal.addEventListener('abort', onAbort, { once: true });
          if (signal.aborted) return onAbort();
          try {
            // While nats.js reconnects it buffers the request; it throws only when closed or draining.
            nc.publish(s.nodeAction(node), data, { reply });
          } catch (err) {
            settle(reply, { err: err as Error });
          }
        });
        const r = decode('actionResult', m.data);
        if (!r.ok) throw new Error(`malformed result from ${node}: ${r.error.field}: ${r.error.reason}`);
        return r.msg;
      } finally {
        signal.removeEventListener('abort', onAbort);
        pending.delete(reply);
      }
    },
    nodeLost(node: string) {
      for (const [reply, p] of pending) if (p.node === node) settle(reply, { err: new NodeLostError(node) });
    },
  };
}
