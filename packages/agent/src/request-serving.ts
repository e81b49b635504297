import type { Msg, Subscription } from '@nats-io/transport-node';
import type { Logger } from '@entropy/protocol';

/** Answers a request; a request without a reply subject, or a reply that cannot go out, is logged. */
export function respond(m: Msg, bytes: Uint8Array, logger: Logger): void {
  if (!m.reply) {
    logger.warn({ subject: m.subject }, 'request published without a reply subject; reply dropped');
    return;
  }
  try {
    m.respond(bytes);
  } catch (err) {
    logger.error({ err: (err as Error).message, subject: m.subject }, 'cannot send reply');
  }
}

/** Serves one subject; each request is answered on its own (a long action does not hold the others). */
export async function serveRequests(
  sub: Subscription,
  answer: (data: Uint8Array) => Uint8Array | Promise<Uint8Array>,
  logger: Logger,
): Promise<void> {
  const failed = (m: Msg) => (err: unknown) =>
    logger.error({ err: (err as Error)?.message, subject: m.subject }, 'handler failed');
  for await (const m of sub) {
    // Called at once, so that requests reach the ledger in the order they arrived.
    let answered;
    try {
      answered = answer(m.data);
    } catch (err) {
      failed(m)(err);
      continue;
    }
    Promise.resolve(answered).then((bytes) => respond(m, bytes, logger), failed(m));
  }
}
