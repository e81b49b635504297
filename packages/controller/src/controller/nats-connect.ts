import { connect, errors, type Msg, type NatsConnection } from '@nats-io/transport-node';
import { decodeControl, encodeControl, type Subjects } from '@entropy/protocol';

export type { NatsConnection };
import { EntropyError, ErrorCode } from '../errors.ts';

export const DEFAULT_NATS_URL = 'nats://127.0.0.1:4222';

/** Credentials come from the environment, as `entropy deploy nats-config` writes them in its credentials files. */
export const NATS_USER_ENV = 'ENTROPY_NATS_USER';
export const NATS_PASSWORD_ENV = 'ENTROPY_NATS_PASSWORD';

/** Connects, or throws a one-line EntropyError naming the URL. */
export async function connectNats(url: string, name: string, options: { reconnect?: boolean; user?: string; password?: string } = {}): Promise<NatsConnection> {
  const user = options.user ?? process.env[NATS_USER_ENV];
  const pass = options.password ?? process.env[NATS_PASSWORD_ENV];
  try {
    return await connect({
      servers: url,
      name,
      ...(user ? { user, pass } : {}),
      timeout: 5000,
      // Stack traces captured for every request cost the controller a tenth of its time per step.
      noAsyncTraces: true,
      ...(options.reconnect ? { maxReconnectAttempts: -1, reconnectTimeWait: 1000 } : { reconnect: false }),
    });
  } catch (cause) {
    throw new EntropyError(ErrorCode.Io, `cannot connect to NATS at ${url}: ${(cause as Error).message}`, { cause });
  }
}

/** A control request; "no controller" and timeouts become one-line EntropyErrors. */
export async function requestController(nc: NatsConnection, subject: string, data: Uint8Array, timeoutMs: number): Promise<Msg> {
  try {
    return await nc.request(subject, data, { timeout: timeoutMs });
  } catch (cause) {
    const noResponders = cause instanceof errors.NoRespondersError || (cause instanceof errors.RequestError && cause.isNoResponders());
    const why = noResponders ? 'no controller is listening (start one with: entropy controller --nats URL)' : `no reply within ${timeoutMs} ms`;
    throw new EntropyError(ErrorCode.Io, `${subject}: ${why}`, { cause });
  }
}

/**
 * The name of a controller that already serves these subjects, when one answers a status request
 * within `timeoutMs`; undefined when none does (no responder answers at once).
 */
export async function runningController(nc: NatsConnection, s: Subjects, timeoutMs: number): Promise<string | undefined> {
  let m: Msg;
  try {
    m = await nc.request(s.control('status'), encodeControl('statusRequest', {}), { timeout: timeoutMs });
  } catch {
    return undefined;
  }
  const r = decodeControl('statusReply', m.data);
  return r.ok ? r.msg.controller : 'one whose status reply does not decode';
}
