import { errors, type NatsConnection } from '@nats-io/transport-node';
import { type ActionRequest, type ActionResult, decode, encode, executingNode, type Subjects } from '@entropy/protocol';
import { NodeLostError, TransientTransportError, type ActionTransport, type SendOptions } from './transport.ts';

export interface NatsTransportOptions {
  readonly subjects: Subjects;
  /** The monitor's verdict: a send to an offline node fails at once instead of waiting out its timeout. */
  readonly isOffline?: (node: string) => boolean;
}

export interface NatsTransport extends ActionTransport {
  /** Fails every pending send to the node (the monitor saw it go offline). */
  nodeLost(node: string): void;
}

/** Request/reply on the executing node's action subject; one request per attempt. */
export function natsTransport(nc: NatsConnection, options: NatsTransportOptions): NatsTransport {
  const s = options.subjects;
  const pending = new Map<string, Set<(err: Error) => void>>();

  return {
    async send(req: ActionRequest, { signal, timeoutMs }: SendOptions): Promise<ActionResult> {
      const node = executingNode(req);
      if (options.isOffline?.(node)) throw new NodeLostError(node);
      let lose!: (err: Error) => void;
      const lost = new Promise<never>((_, reject) => (lose = reject));
      lost.catch(() => {});
      const waiters = pending.get(node) ?? new Set();
      pending.set(node, waiters.add(lose));
      const onAbort = () => lose(new TransientTransportError(node, 'abandoned by the executor'));
      signal.addEventListener('abort', onAbort, { once: true });
      try {
        const m = await Promise.race([nc.request(s.nodeAction(node), encode('actionRequest', req), { timeout: Math.max(1, Math.round(timeoutMs)) }), lost]);
        const r = decode('actionResult', m.data);
        if (!r.ok) throw new Error(`malformed result from ${node}: ${r.error.field}: ${r.error.reason}`);
        return r.msg;
      } catch (err) {
        if (err instanceof NodeLostError || err instanceof TransientTransportError) throw err;
        if (isRetryable(err)) throw new TransientTransportError(node, `${node}: ${(err as Error).message}`, { cause: err });
        throw err;
      } finally {
        signal.removeEventListener('abort', onAbort);
        waiters.delete(lose);
      }
    },
    nodeLost(node: string) {
      for (const lose of pending.get(node) ?? []) lose(new NodeLostError(node));
    },
  };
}

/** No responder yet (an agent restarting), a reply that did not come in time, a connection that is reconnecting. */
function isRetryable(err: unknown): boolean {
  if (err instanceof errors.TimeoutError || err instanceof errors.NoRespondersError) return true;
  if (err instanceof errors.RequestError) return err.isNoResponders() || err.cause instanceof errors.TimeoutError || /disconnect/i.test(err.message);
  return false;
}
