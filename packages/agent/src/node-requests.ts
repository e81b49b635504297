import {
  ActionErrorCode,
  decode,
  encode,
  type LedgerReply,
  type Logger,
  type SimLinkReply,
  type SimLinkRequest,
  type VMMetaAck,
} from '@entropy/protocol';
import type { AgentState } from './state/agent-state.ts';

/** The controller's requests beside actions, each a function of the request's bytes to the reply's. */

const badRequest = (field: string, reason: string) => ({
  code: ActionErrorCode.BadRequest,
  message: `${field}: ${reason}`,
  field,
});

/** `PREFIX.node.<node>.ledger`: what became of action ids. `maxPayload` is the server's limit on a message. */
export function answerLedgerQuery(node: string, state: AgentState, data: Uint8Array, maxPayload: number): Uint8Array {
  const r = decode('ledgerQuery', data);
  const reply: LedgerReply = r.ok
    ? { node, entries: state.ledger.query(r.msg.actionIds) }
    : { node, entries: [], error: badRequest(r.error.field, r.error.reason) };
  const bytes = encode('ledgerReply', reply);
  if (bytes.length <= maxPayload || !r.ok) return bytes;
  const error = {
    code: ActionErrorCode.BadRequest,
    message: `the reply for ${r.msg.actionIds.length} ids takes ${bytes.length} bytes, more than the server's ${maxPayload}: ask for fewer ids at a time`,
    field: '$.actionIds',
  };
  return encode('ledgerReply', { node, entries: [], error });
}

/** `PREFIX.node.<node>.meta`: the controller tells the vjob and demand of VMs (a deposed leader is refused). */
export function answerVmMeta(node: string, state: AgentState, data: Uint8Array, logger: Logger): Uint8Array {
  const r = decode('vmMeta', data);
  let ack: VMMetaAck;
  if (!r.ok) ack = { node, updated: 0, error: badRequest(r.error.field, r.error.reason) };
  else {
    try {
      const verdict = state.token.admit(r.msg.token);
      if (!verdict.ok) {
        const message = `token ${r.msg.token} is older than ${verdict.newest}, the newest ${node} has seen: the request comes from a deposed leader`;
        ack = { node, updated: 0, error: { code: ActionErrorCode.StaleLeader, message } };
      } else {
        ack = {
          node,
          updated: state.meta.setAll(r.msg.vms.map((v) => [v.vm, { vjob: v.vjob, demand: v.demand }] as const)),
        };
        if (ack.updated > 0) logger.info({ updated: ack.updated }, 'VM metadata set by the controller');
      }
    } catch (err) {
      ack = { node, updated: 0, error: { code: ActionErrorCode.StateDir, message: (err as Error).message } };
    }
  }
  return encode('vmMetaAck', ack);
}

/** Sim link: the peer side of a migration or remote resume, and what it means for the metadata. */
export async function answerSimLink(
  state: AgentState,
  data: Uint8Array,
  receive: (req: SimLinkRequest) => Promise<SimLinkReply>,
  logger: Logger,
): Promise<Uint8Array> {
  const r = decode('simLinkRequest', data);
  if (!r.ok) return encode('simLinkReply', { ok: false, error: badRequest(r.error.field, r.error.reason) });
  const reply = await receive(r.msg);
  if (reply.ok) {
    try {
      // A VM that arrived keeps what its source knew of it; an image given away takes its metadata along.
      if (r.msg.op === 'migrate-commit' && r.msg.vjob !== undefined)
        state.meta.set(r.msg.vm, { vjob: r.msg.vjob, demand: r.msg.demand });
      if (r.msg.op === 'take-image') state.meta.delete(r.msg.vm);
    } catch (err) {
      logger.error({ vm: r.msg.vm, err: (err as Error).message }, 'cannot save VM metadata');
    }
  }
  return encode('simLinkReply', reply);
}
