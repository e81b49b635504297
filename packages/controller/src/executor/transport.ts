import { type ActionRequest, type ActionResult, EntropyError, ExecutorErrorCode } from '@entropy/protocol';

export interface SendOptions {
  /** Aborted when the executor gives up on the action (its deadline passed). */
  readonly signal: AbortSignal;
  /** Time left before the executor's deadline for this action. */
  readonly timeoutMs: number;
}

/**
 * The executor's only access to the agents: one action request to the agent of the node that
 * executes it (`executingNode(request)`), resolved with that agent's result. The NATS adapter
 * does request/reply on the node's action subject; unit tests plug in an in-memory fake.
 *
 * A send that could not reach the agent (no responder yet, a reply lost) rejects with a
 * `TransientTransportError`: the executor retries with the same action id, which the agent
 * deduplicates. Any other rejection fails the action.
 */
export interface ActionTransport {
  send(request: ActionRequest, options: SendOptions): Promise<ActionResult>;
}

/** The request may not have reached the agent, or its reply was lost: retrying is safe. */
export class TransientTransportError extends EntropyError {
  override name = 'TransientTransportError';
  constructor(
    readonly node: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(ExecutorErrorCode.Transport, message, { ...options, context: { node } });
  }
}

/** The node is known to be gone (its agent stopped publishing status): waiting longer is useless. */
export class NodeLostError extends EntropyError {
  override name = 'NodeLostError';
  constructor(
    readonly node: string,
    message = `node ${node} is offline`,
  ) {
    super(ExecutorErrorCode.NodeLost, message, { context: { node } });
  }
}
