import { createHmac, randomBytes } from 'node:crypto';
import type { ActionRequest, ActionResult } from '@entropy/protocol';

/**
 * The nonces of one plan: a secret drawn for the plan, and for each action id the first 22
 * characters of its HMAC under that secret. A request carries its action's nonce, its result
 * must echo it; a retry of the action carries the same. An agent learns the nonces of the actions
 * sent to it, never another's: even where it could publish on the controller's inbox (a server
 * without the generated permissions), it cannot forge another node's result.
 */
export function planNonces(): (actionId: string) => string {
  const secret = randomBytes(32);
  return (actionId) => createHmac('sha256', secret).update(actionId).digest('base64url').slice(0, 22);
}

/**
 * Why `result` is not the answer of `node`'s agent to `request`, or undefined when it is: the
 * action id the executor issued, the node it sent the action to, and the plan's nonce echoed. The
 * NATS transport ignores a reply that fails this (the answer may still come); the executor fails
 * an action whose transport hands it one.
 */
export function resultMismatch(
  request: Pick<ActionRequest, 'actionId' | 'nonce'>,
  node: string,
  result: Pick<ActionResult, 'actionId' | 'node' | 'nonce'>,
): string | undefined {
  if (result.actionId !== request.actionId)
    return `reply for action ${JSON.stringify(result.actionId)}, expected ${request.actionId}`;
  if (result.node !== node) return `reply from node ${result.node} for an action sent to ${node}`;
  if (request.nonce !== undefined && result.nonce !== request.nonce) return `reply without the action's nonce`;
  return undefined;
}
