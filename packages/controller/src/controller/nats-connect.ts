import { connect, errors, type Msg, type NatsConnection } from '@nats-io/transport-node';
import {
  chunkSizeFor,
  type ControlKind,
  type ControlMessageOf,
  type ControlVerb,
  decodeControl,
  encodeControl,
  EntropyError,
  ErrorCode,
  joinReply,
  MAX_CONTROL_REPLY_BYTES,
  REPLY_SENTINEL,
  splitReply,
  type Subjects,
} from '@entropy/protocol';
import { DEFAULT_NATS_URL, type NatsAuthFlags, natsClientSettings } from '@entropy/nats-client';

export { DEFAULT_NATS_URL };
export type { NatsAuthFlags, NatsConnection };

/** How long a client waits for a controller's reply unless told otherwise (`--timeout`). */
export const DEFAULT_CONTROL_TIMEOUT_MS = 5000;

/** nats-server's default max_payload, for a connection that has not received the server's INFO. */
const DEFAULT_MAX_PAYLOAD = 1024 * 1024;

/**
 * Connects to the servers and with the credentials of `target` (a URL, or the command's NATS
 * options: flags, then the environment, then the credentials file; see @entropy/nats-client),
 * or throws a one-line error naming the servers.
 */
export async function connectNats(
  target: string | NatsAuthFlags,
  name: string,
  options: { reconnect?: boolean } = {},
): Promise<NatsConnection> {
  const settings = await natsClientSettings(typeof target === 'string' ? { nats: target } : target);
  const servers = settings.servers.join(',');
  try {
    return await connect({
      servers: settings.servers,
      name,
      ...settings.options,
      timeout: 5000,
      // Stack traces captured for every request cost the controller a tenth of its time per step.
      noAsyncTraces: true,
      // A command given several servers (a cluster) moves to another when its server goes; with one, it ends.
      ...(options.reconnect
        ? { maxReconnectAttempts: -1, reconnectTimeWait: 1000 }
        : settings.servers.length > 1
          ? { maxReconnectAttempts: 10, reconnectTimeWait: 500 }
          : { reconnect: false }),
    });
  } catch (cause) {
    const as = settings.user ? ` as ${settings.user}` : '';
    throw new EntropyError(ErrorCode.Io, `cannot connect to NATS at ${servers}${as}: ${(cause as Error).message}`, {
      cause,
    });
  }
}

/** Where a controller serves its control requests: its prefix, and the NATS URL (both named in errors). */
export interface ControllerAddress {
  readonly subjects: Subjects;
  readonly url: string;
}

/** True for a request nobody serves (nats-server's 503), whichever error nats.js wraps it in. */
export function isNoResponders(cause: unknown): boolean {
  return cause instanceof errors.NoRespondersError || (cause instanceof errors.RequestError && cause.isNoResponders());
}

function unreachable(to: ControllerAddress, verb: ControlVerb, why: string, cause?: unknown): EntropyError {
  return new EntropyError(
    ErrorCode.Io,
    `${to.subjects.control(verb)}: ${why}`,
    cause === undefined ? undefined : { cause },
  );
}

const nobody = (to: ControllerAddress) =>
  `no controller is listening on prefix ${to.subjects.prefix} at ${to.url} (start one with: entropy controller --nats ${to.url} --prefix ${to.subjects.prefix})`;

/**
 * A control request and its whole reply: the chunks up to the empty sentinel, joined (see
 * @entropy/protocol's chunks.ts). No responder fails at once; a controller that does not finish
 * its reply within `timeoutMs` fails then; both as one-line EntropyErrors naming the prefix and URL.
 */
export async function requestChunkedReply(
  nc: NatsConnection,
  to: ControllerAddress,
  verb: ControlVerb,
  data: Uint8Array,
  timeoutMs: number,
): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  let bytes = 0;
  try {
    const replies = await nc.requestMany(to.subjects.control(verb), data, { strategy: 'sentinel', maxWait: timeoutMs });
    for await (const m of replies) {
      if (m.data.length === 0) return joinReply(chunks);
      bytes += m.data.length;
      // Bounded: a reply that never ends must not take the client's memory.
      if (bytes > MAX_CONTROL_REPLY_BYTES)
        throw new EntropyError(
          ErrorCode.Io,
          `${to.subjects.control(verb)}: the reply passed ${MAX_CONTROL_REPLY_BYTES} bytes; refused`,
        );
      chunks.push(m.data);
    }
  } catch (cause) {
    if (cause instanceof EntropyError) throw cause;
    throw unreachable(
      to,
      verb,
      isNoResponders(cause) ? nobody(to) : `request failed: ${(cause as Error).message}`,
      cause,
    );
  }
  // requestMany ends quietly at maxWait: a controller that did not answer, or did not finish.
  const got = chunks.length === 0 ? 'no reply' : `an incomplete reply (${chunks.length} chunks, no end)`;
  throw unreachable(
    to,
    verb,
    `${got} within ${timeoutMs} ms from the controller on prefix ${to.subjects.prefix} at ${to.url}`,
  );
}

/** `requestChunkedReply`, then the reply decoded and validated; a reply that does not decode is a one-line EntropyError. */
export async function askController<R extends ControlKind>(
  nc: NatsConnection,
  to: ControllerAddress,
  verb: ControlVerb,
  request: Uint8Array,
  replyKind: R,
  timeoutMs: number,
): Promise<ControlMessageOf<R>> {
  const r = decodeControl(replyKind, await requestChunkedReply(nc, to, verb, request, timeoutMs));
  if (!r.ok) throw new EntropyError(ErrorCode.Io, `malformed ${verb} reply: ${r.error.field}: ${r.error.reason}`);
  return r.msg;
}

/** Answers a control request in chunks that fit the server's max_payload, then the empty sentinel. */
export function respondChunked(nc: NatsConnection, m: Msg, reply: Uint8Array): void {
  if (!m.reply) return;
  for (const chunk of splitReply(reply, chunkSizeFor(nc.info?.max_payload ?? DEFAULT_MAX_PAYLOAD)))
    nc.publish(m.reply, chunk);
  nc.publish(m.reply, REPLY_SENTINEL);
}

/**
 * The name of a controller that already serves these subjects, when one answers a status request
 * within `timeoutMs`; undefined when none does (no responder answers at once).
 */
export async function runningController(
  nc: NatsConnection,
  s: Subjects,
  timeoutMs: number,
): Promise<string | undefined> {
  let data: Uint8Array;
  try {
    data = await requestChunkedReply(
      nc,
      { subjects: s, url: nc.getServer() },
      'status',
      encodeControl('statusRequest', {}),
      timeoutMs,
    );
  } catch {
    return undefined;
  }
  const r = decodeControl('statusReply', data);
  return r.ok ? r.msg.controller : 'one whose status reply does not decode';
}
