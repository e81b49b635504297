import type { NatsConnection } from '../../packages/controller/src/controller/nats-connect.ts';
import { decodeControl, encodeControl, type StatusReply, subjects } from '../../packages/protocol/src/index.ts';

/** The status reply of the controller serving `prefix`; throws when none answers or the reply does not decode. */
export async function controllerStatus(nc: NatsConnection, prefix: string): Promise<StatusReply> {
  const m = await nc.request(subjects(prefix).control('status'), encodeControl('statusRequest', {}), { timeout: 10_000 });
  const r = decodeControl('statusReply', m.data);
  if (!r.ok) throw new Error(`bad status reply: ${r.error.field}: ${r.error.reason}`);
  return r.msg;
}
