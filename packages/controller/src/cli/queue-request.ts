import {
  type ControlKind,
  type ControlMessageOf,
  type ControlVerb,
  encodeControl,
  EntropyError,
  ErrorCode,
  ProtocolError,
  subjects,
} from '@entropy/protocol';
import {
  askController,
  connectNats,
  DEFAULT_CONTROL_TIMEOUT_MS,
  type NatsAuthFlags,
} from '../controller/nats-connect.ts';

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
  const data = checkedRequest(verb, request);
  const nc = await connectNats(options, `entropy-${verb}`);
  try {
    const to = { subjects: subjects(options.prefix), url: options.nats ?? nc.getServer() };
    return await askController(nc, to, verb, data, replyKind, options.timeout ?? DEFAULT_CONTROL_TIMEOUT_MS);
  } finally {
    await nc.close();
  }
}

/** The request encoded, checked before any connection: a value the protocol refuses (an id with a dot) is one line naming it. */
function checkedRequest<Q extends ControlKind>(
  verb: ControlVerb,
  request: { kind: Q; msg: ControlMessageOf<Q> },
): Uint8Array {
  try {
    return encodeControl(request.kind, request.msg);
  } catch (err) {
    if (!(err instanceof ProtocolError)) throw err;
    const value = valueAt(request.msg, err.field);
    const why = err.message.slice(err.message.indexOf(`${err.field}: `) + err.field.length + 2);
    throw new EntropyError(
      ErrorCode.InvalidOption,
      `${verb}: ${JSON.stringify(value) ?? 'nothing'} (${err.field.replace(/^\$\.?/, '') || 'request'}) ${why}`,
      { cause: err },
    );
  }
}

/** The value at a JSON path such as `$.vjob.vms[0].id`. */
function valueAt(root: unknown, path: string): unknown {
  let at = root;
  for (const [, key, index] of path.matchAll(/\.([^.[]+)|\[(\d+)\]/g))
    at = (at as Record<string, unknown> | undefined)?.[key ?? Number(index)];
  return at;
}
