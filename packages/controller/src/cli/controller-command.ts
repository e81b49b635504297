import { startController, type DecideFn } from '../controller/controller.ts';
import { createLogger } from '../controller/logger.ts';
import { subjects } from '@entropy/protocol';
import { connectNats, DEFAULT_NATS_URL, runningController } from '../controller/nats-connect.ts';
import { closeInterruptedPlan } from '../controller/plan-records.ts';
import type { PlanJournal } from '../journal/plan-journal.ts';
import { openJournal } from '../journal/stream-journal.ts';
import { EntropyError, ErrorCode } from '../errors.ts';
import type { ExecutionMode } from '../executor/index.ts';
import { loadPolicy } from '../policy/index.ts';
import { openQueueStore, queueBucketOf, type QueueStoreKind } from '../queue/kv-queue-store.ts';
import { VJobQueue } from '../queue/vjob-queue.ts';
import type { CommandResult } from './io.ts';

export interface ControllerCommandOptions {
  readonly nats?: string;
  readonly prefix?: string;
  readonly statusPeriod?: number;
  readonly mode?: ExecutionMode;
  readonly logLevel?: string;
  readonly name?: string;
  /** A raw policy hook for tests; `policy` is the usual way. */
  readonly decide?: DecideFn;
  /** The control loop's policy: a built-in name or a module path (default fifo-ffd). */
  readonly policy?: string;
  readonly loopInterval?: number;
  /** Where the vjob queue is kept: JetStream KV, falling back to memory (`auto`, the default), `kv` only, or `memory`. */
  readonly queueStore?: QueueStoreKind;
  /** The KV bucket of the queue (default PREFIX_queue, dots as underscores). */
  readonly queueBucket?: string;
  /** How long an ended vjob stays in the queue (default one day). */
  readonly keepEnded?: number;
  /** Stops the controller; SIGINT and SIGTERM when absent. */
  readonly signal?: AbortSignal;
}

/** How long a starting controller waits for another one's status reply; no responder at all answers at once. */
const OTHER_CONTROLLER_TIMEOUT_MS = 2000;

/** The control loop's policy when none is named: FIFO with first-fit decreasing on measured use, aging priorities. */
export const DEFAULT_POLICY = 'fifo-ffd';

/** `entropy controller`: runs the monitor, the control subjects and the executor until stopped. */
export async function controllerCommand(options: ControllerCommandOptions = {}): Promise<CommandResult> {
  const logger = createLogger(options.logLevel ?? 'info');
  const url = options.nats ?? DEFAULT_NATS_URL;
  const policy = options.decide ? undefined : await loadPolicy(options.policy ?? DEFAULT_POLICY);
  const nc = await connectNats(url, options.name ?? 'entropy-controller', { reconnect: true });
  let queue: VJobQueue | undefined;
  let journal: PlanJournal | undefined;
  let knownNodes: string[] = [];
  try {
    // Two controllers on one prefix would both plan and execute: the second one refuses to start.
    const prefix = options.prefix ?? 'entropy';
    const other = await runningController(nc, subjects(prefix), OTHER_CONTROLLER_TIMEOUT_MS);
    if (other !== undefined) {
      throw new EntropyError(ErrorCode.Io, `controller ${other} already serves prefix ${prefix} on ${url}: stop it first, or give this one another --prefix`);
    }
    const store = await openQueueStore(nc, { kind: options.queueStore ?? 'auto', bucket: options.queueBucket ?? queueBucketOf(options.prefix ?? 'entropy'), logger });
    queue = await VJobQueue.open(store, logger, options.keepEnded !== undefined ? { keepEndedMs: options.keepEnded } : {});
    journal = store.kind === 'kv' ? await openJournal(nc, { prefix, logger }) : undefined;
    knownNodes = await store.knownNodes();
    await closeInterruptedPlan(store, logger, journal);
  } catch (err) {
    await nc.close();
    throw err;
  }
  const controller = startController(nc, {
    logger,
    ...(options.prefix ? { prefix: options.prefix } : {}),
    ...(options.name ? { name: options.name } : {}),
    ...(options.statusPeriod ? { statusPeriodMs: options.statusPeriod } : {}),
    ...(options.mode ? { mode: options.mode } : {}),
    ...(options.decide ? { decide: options.decide } : {}),
    ...(policy ? { policy } : {}),
    queue,
    ...(journal ? { journal } : {}),
    knownNodes,
    ...(options.loopInterval ? { loopIntervalMs: options.loopInterval } : {}),
  });
  logger.info({ nats: url, policy: policy?.name, store: queue.store.kind, vjobs: queue.list().length }, 'connected');
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
