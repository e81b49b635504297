import { type ControlKind, type ControlMessageOf, type ControlVerb, encodeControl, subjects } from '@entropy/protocol';
import { askController, connectNats, DEFAULT_CONTROL_TIMEOUT_MS, type NatsAuthFlags } from '../controller/nats-connect.ts';

/** `--nats` (servers) and the credentials, then the prefix and how long to wait. */
export interface ControlClientOptions extends NatsAuthFlags {
  readonly prefix?: string;
  /** How long to wait for the controller's whole reply (default 5 s). */
  readonly timeout?: number;
}

/**
 * One control request to the controller and its validated reply. No controller (at once), no
 * whole reply within the timeout, or a bad reply is a one-line EntropyError naming the prefix and URL.
 */
export async function controlRequest<Q extends ControlKind, R extends ControlKind>(
  verb: ControlVerb,
  request: { kind: Q; msg: ControlMessageOf<Q> },
  replyKind: R,
  options: ControlClientOptions,
): Promise<ControlMessageOf<R>> {
  const nc = await connectNats(options, `entropy-${verb}`);
  try {
    const to = { subjects: subjects(options.prefix), url: options.nats ?? nc.getServer() };
    return await askController(nc, to, verb, encodeControl(request.kind, request.msg), replyKind, options.timeout ?? DEFAULT_CONTROL_TIMEOUT_MS);
  } finally {
    await nc.close();
  }
}
