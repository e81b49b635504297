import type { NodeActionType } from '@entropy/engine';
import { EntropyError, type EntropyErrorCode, NodePowerErrorCode } from '@entropy/protocol';

export { NodePowerErrorCode };

/** One node power action as the executor hands it to the controller's NodePower. */
export interface NodePowerRequest {
  readonly node: string;
  /** `<planId>:<action id>`, as for VM actions: what the agent deduplicates and progress names. */
  readonly wireId: string;
  readonly planId: string;
  /** The cost model's estimate (a boot's is 2 minutes by default). */
  readonly estimatedMs: number;
  /** The executor's timeout for an action of this estimate; a boot waits as long as the NodePower's own boot timeout says. */
  readonly timeoutMs: number;
  /** The leader's fencing token. */
  readonly token?: number;
  /** The plan was stopped by its caller (the controller stops leading): give up waiting. */
  readonly signal?: AbortSignal;
}

/**
 * The executor's port to node power, injected by the controller like the transport: the executor
 * stays generic and tests plug in a fake. In `entropy controller`, a boot runs `--boot-command`
 * and waits until the node's agent said hello and published a status; a shutdown asks the node's
 * agent (`PREFIX.node.<node>.power`) and ends with its reply, after which the node is offline.
 * Each call resolves once the action is complete, or rejects with a NodePowerError (any other
 * rejection is a transport failure).
 */
export interface NodePower {
  /** Why this controller cannot run node actions of this type (naming the option that would enable them), or undefined when it can. */
  unsupported(type: NodeActionType): string | undefined;
  boot(request: NodePowerRequest): Promise<void>;
  shutdown(request: NodePowerRequest): Promise<void>;
}

/** A node power action that failed; `code` is a NodePowerErrorCode or an agent's ActionErrorCode. */
export class NodePowerError extends EntropyError {
  override name = 'NodePowerError';
  /** Retrying cannot help (the agent said so). */
  readonly final: boolean;
  /** The node's state is unknown afterwards (a timeout, an abort, a lost reply). */
  readonly uncertain: boolean;

  constructor(
    code: string,
    readonly node: string,
    message: string,
    options: { readonly final?: boolean; readonly uncertain?: boolean; readonly cause?: unknown } = {},
  ) {
    // A code from an agent's reply: the registry's, or a newer agent's that this controller passes on as it came.
    super(code as EntropyErrorCode, message, { cause: options.cause, context: { node } });
    this.final = options.final ?? false;
    this.uncertain = options.uncertain ?? false;
  }
}
