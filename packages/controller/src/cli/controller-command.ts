import { startController, type DecideFn } from '../controller/controller.ts';
import { createLogger } from '../controller/logger.ts';
import { connectNats, DEFAULT_NATS_URL } from '../controller/nats-connect.ts';
import type { ExecutionMode } from '../executor/index.ts';
import type { CommandResult } from './io.ts';

export interface ControllerCommandOptions {
  readonly nats?: string;
  readonly prefix?: string;
  readonly statusPeriod?: number;
  readonly mode?: ExecutionMode;
  readonly logLevel?: string;
  readonly name?: string;
  /** The policy hook; the CLI runs without one (plans only on `entropy apply`) until the queue lands. */
  readonly decide?: DecideFn;
  /** Stops the controller; SIGINT and SIGTERM when absent. */
  readonly signal?: AbortSignal;
}

/** `entropy controller`: runs the monitor, the control subjects and the executor until stopped. */
export async function controllerCommand(options: ControllerCommandOptions = {}): Promise<CommandResult> {
  const logger = createLogger(options.logLevel ?? 'info');
  const url = options.nats ?? DEFAULT_NATS_URL;
  const nc = await connectNats(url, options.name ?? 'entropy-controller', { reconnect: true });
  const controller = startController(nc, {
    logger,
    ...(options.prefix ? { prefix: options.prefix } : {}),
    ...(options.name ? { name: options.name } : {}),
    ...(options.statusPeriod ? { statusPeriodMs: options.statusPeriod } : {}),
    ...(options.mode ? { mode: options.mode } : {}),
    ...(options.decide ? { decide: options.decide } : {}),
  });
  logger.info({ nats: url }, 'connected');
  const stop = options.signal ?? signalled();
  let stopping = false;
  const lost = await Promise.race([
    new Promise<false>((resolve) => (stop.aborted ? resolve(false) : stop.addEventListener('abort', () => resolve(false), { once: true }))),
    nc.closed().then((err) => {
      if (!stopping) logger.error({ err: err?.message }, 'NATS connection closed');
      return true;
    }),
  ]);
  stopping = true;
  await controller.close();
  // Draining needs the server; when it is gone, closing is all that is left to do.
  if (!nc.isClosed()) await nc.drain().catch(() => nc.close());
  return { output: lost ? 'NATS connection closed' : '', exitCode: lost ? 1 : 0 };
}

function signalled(): AbortSignal {
  const ac = new AbortController();
  for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => ac.abort());
  return ac.signal;
}
