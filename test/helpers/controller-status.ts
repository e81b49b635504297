import { askController, type NatsConnection } from '../../packages/controller/src/controller/nats-connect.ts';
import { encodeControl, type StatusReply, subjects } from '@entropy/protocol';

/** The status reply of the controller serving `prefix`, whole (it comes in chunks); throws when none answers or the reply does not decode. */
export function controllerStatus(nc: NatsConnection, prefix: string): Promise<StatusReply> {
  return askController(
    nc,
    { subjects: subjects(prefix), url: nc.getServer() },
    'status',
    encodeControl('statusRequest', {}),
    'statusReply',
    10_000,
  );
}
