import { type ControlKind, type ControlMessageOf, type ControlVerb, decodeControl, encodeControl, subjects } from '@entropy/protocol';
import { connectNats, DEFAULT_NATS_URL, requestController } from '../controller/nats-connect.ts';
import { EntropyError, ErrorCode } from '../errors.ts';

export interface ControlClientOptions {
  readonly nats?: string;
  readonly prefix?: string;
  readonly timeout?: number;
}

/** One control request to the controller and its validated reply; no controller or a bad reply is a one-line EntropyError. */
export async function controlRequest<Q extends ControlKind, R extends ControlKind>(
  verb: ControlVerb,
  request: { kind: Q; msg: ControlMessageOf<Q> },
  replyKind: R,
  options: ControlClientOptions,
): Promise<ControlMessageOf<R>> {
  const nc = await connectNats(options.nats ?? DEFAULT_NATS_URL, `entropy-${verb}`);
  try {
    const m = await requestController(nc, subjects(options.prefix).control(verb), encodeControl(request.kind, request.msg), options.timeout ?? 10_000);
    const r = decodeControl(replyKind, m.data);
    if (!r.ok) throw new EntropyError(ErrorCode.Io, `malformed ${verb} reply: ${r.error.field}: ${r.error.reason}`);
    return r.msg;
  } finally {
    await nc.close();
  }
}
