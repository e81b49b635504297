import { type Controller, startController, type DecideFn } from '../controller/controller.ts';
import { readConstraintsFile, watchConstraintsFile } from '../controller/constraints-file.ts';
import { createLogger, type Logger } from '../controller/logger.ts';
import {
  type CommandTemplate,
  CommandTemplateError,
  EntropyError,
  ErrorCode,
  parseCommandTemplate,
  subjects,
} from '@entropy/protocol';
import { connectNats, type NatsAuthFlags, runningController } from '../controller/nats-connect.ts';
import { type LeaderLease, startLeaderLease } from '../controller/leader-lease.ts';
import { BOOT_COMMAND_PLACEHOLDERS } from '../controller/nats-node-power.ts';
import { DEFAULT_RETRY_POLICY } from '../reconcile/failure-book.ts';
import { DEFAULT_TURN_BUDGETS, NO_TURN_BUDGETS, type TurnBudgets } from '../reconcile/budget-defaults.ts';
import type { PlanJournal } from '../journal/plan-journal.ts';
import { openJournal } from '../journal/stream-journal.ts';
import type { ExecutionMode } from '../executor/index.ts';
import { loadPolicy } from '../policy/load-policy.ts';
import { openQueueStore, queueBucketOf, type QueueStoreKind } from '../queue/kv-queue-store.ts';
import { VJobQueue } from '../queue/vjob-queue.ts';
import { readCostModelFile } from './cost-model-option.ts';
import type { CommandResult } from '../command-io/io.ts';

export interface ControllerCommandOptions extends NatsAuthFlags {
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
  /** The leader lease period (JetStream store only). */
  readonly lease?: number;
  /** Failures of a vjob's transition before it is given up. */
  readonly maxAttempts?: number;
  /** Backoff before the first retry of a failed transition. */
  readonly retryBackoff?: number;
  /** A cost-model file (`entropy calibrate`'s output): the model every plan is made with, instead of the defaults. */
  readonly costModel?: string;
  /** How a node is booted: a command run without a shell, its id in `{node}` (IPMI, Wake-on-LAN; in tests, a script starting a sim agent). */
  readonly bootCommand?: string;
  /** How long a boot may take until the node's agent reports (default 5 minutes). */
  readonly bootTimeout?: number;
  /** A vjob's pauses and unpauses start together this long after they are sent (0: each at once). */
  readonly groupLead?: number;
  /** The servers of a NATS cluster that keep the queue, the lease and the plan journal (default 1). */
  readonly replicas?: number;
  /** The control loop proposes its plans (`entropy plans`) and executes one once `entropy approve ID` says so. */
  readonly approve?: boolean;
  /** Anti-thrash budgets (budgets.ts): each flag sets its own; `budgets: false` (--no-budgets) starts from none instead of the defaults. */
  readonly minGain?: number;
  readonly moveHold?: number;
  readonly maxMigrations?: number;
  readonly maxMigratedMem?: number;
  readonly budgets?: boolean;
  /** A cluster constraints file (`{ "constraints": [...] }`), reloaded on SIGHUP and when it changes. */
  readonly constraints?: string;
  /** Stops the controller; SIGINT and SIGTERM when absent. */
  readonly signal?: AbortSignal;
}

/** How long a starting controller waits for another one's status reply; no responder at all answers at once. */
const OTHER_CONTROLLER_TIMEOUT_MS = 2000;

/** The control loop's policy when none is named: FIFO with first-fit decreasing on measured use, aging priorities. */
export const DEFAULT_POLICY = 'fifo-ffd';

/** `entropy controller`: runs the monitor, the control subjects and the executor until stopped. */
export async function controllerCommand(options: ControllerCommandOptions = {}): Promise<CommandResult> {
  const bootCommand = parseBootCommand(options.bootCommand);
  const logger = createLogger(options.logLevel ?? 'info');
  const costModel = options.costModel ? readCostModelFile(options.costModel) : undefined;
  const policy = options.decide ? undefined : await loadPolicy(options.policy ?? DEFAULT_POLICY);
  // A bad constraints file at start is one line and exit 1, before anything connects; a bad reload keeps the last good one.
  if (options.constraints) readConstraintsFile(options.constraints);
  const nc = await connectNats(options, options.name ?? 'entropy-controller', { reconnect: true });
  const url = options.nats ?? nc.getServer();
  let queue: VJobQueue | undefined;
  let journal: PlanJournal | undefined;
  let lease: LeaderLease | undefined;
  const name = options.name ?? `entropy-controller-${process.pid}`;
  try {
    const prefix = options.prefix ?? 'entropy';
    const other = await runningController(nc, subjects(prefix), OTHER_CONTROLLER_TIMEOUT_MS);
    // The store's warnings wait until it is known whether this controller starts at all.
    const held: [string, object, string | undefined][] = [];
    const holding: Logger = {
      ...logger,
      warn: (o, msg) => void held.push(['warn', o, msg]),
      info: (o, msg) => void held.push(['info', o, msg]),
    };
    const replicas = options.replicas !== undefined ? { replicas: options.replicas } : {};
    const store = await openQueueStore(nc, {
      kind: options.queueStore ?? 'auto',
      bucket: options.queueBucket ?? queueBucketOf(prefix),
      logger: holding,
      ...replicas,
    });
    if (store.kind !== 'kv' && other !== undefined) {
      // Without JetStream there is no lease: two controllers would both plan and execute, so the second refuses to start.
      throw new EntropyError(
        ErrorCode.Io,
        `controller ${other} already serves prefix ${prefix} on ${url}: stop it first, or give this one another --prefix`,
      );
    }
    for (const [level, o, msg] of held) logger[level as 'warn' | 'info'](o, msg);
    if (store.kind === 'kv') {
      // With JetStream, controllers of one prefix share a lease: one leads, the others stand by.
      journal = await openJournal(nc, { prefix, logger, ...replicas });
      lease = await startLeaderLease(nc, {
        prefix,
        holder: name,
        logger,
        ...replicas,
        ...(options.lease ? { leaseMs: options.lease } : {}),
      });
    }
    queue = await VJobQueue.open(
      store,
      logger,
      options.keepEnded !== undefined ? { keepEndedMs: options.keepEnded } : {},
    );
  } catch (err) {
    await lease?.close();
    await nc.close();
    throw err;
  }
  const retry = {
    ...DEFAULT_RETRY_POLICY,
    ...(options.maxAttempts ? { maxAttempts: options.maxAttempts } : {}),
    ...(options.retryBackoff ? { baseBackoffMs: options.retryBackoff } : {}),
  };
  let controller: Controller | undefined;
  const constraintsFile = options.constraints
    ? watchConstraintsFile(options.constraints, logger, () => controller?.constraintsChanged())
    : undefined;
  controller = startController(nc, {
    logger,
    ...(options.prefix ? { prefix: options.prefix } : {}),
    name,
    retry,
    ...(lease ? { lease } : {}),
    ...(options.statusPeriod ? { statusPeriodMs: options.statusPeriod } : {}),
    ...(options.mode ? { mode: options.mode } : {}),
    ...(options.decide ? { decide: options.decide } : {}),
    ...(policy ? { policy } : {}),
    queue,
    ...(journal ? { journal } : {}),
    ...(options.loopInterval ? { loopIntervalMs: options.loopInterval } : {}),
    ...(costModel ? { costModel } : {}),
    ...(bootCommand ? { bootCommand } : {}),
    ...(options.bootTimeout ? { bootTimeoutMs: options.bootTimeout } : {}),
    ...(options.groupLead ? { groupLeadMs: options.groupLead } : {}),
    ...(options.approve ? { approve: true } : {}),
    budgets: budgetsOf(options),
    ...(constraintsFile ? { constraints: constraintsFile.current } : {}),
  });
  logger.info(
    {
      nats: url,
      policy: policy?.name,
      ...(options.costModel ? { costModel: options.costModel } : {}),
      store: queue.store.kind,
      vjobs: queue.list().length,
      ...(options.approve ? { approve: 'plans wait for entropy approve (proposals kept in memory)' } : {}),
    },
    'connected',
  );
  const stop = options.signal ?? signalled();
  let stopping = false;
  const lost = await Promise.race([
    new Promise<false>((resolve) =>
      stop.aborted ? resolve(false) : stop.addEventListener('abort', () => resolve(false), { once: true }),
    ),
    nc.closed().then((err) => {
      if (!stopping) logger.error({ err: err?.message }, 'NATS connection closed');
      return true;
    }),
  ]);
  stopping = true;
  constraintsFile?.close();
  await controller.close();
  // A clean stop hands the lease over at once.
  await lease?.close();
  // Draining needs the server; when it is gone, closing is all that is left to do.
  if (!nc.isClosed()) await nc.drain().catch(() => nc.close());
  return { output: lost ? 'NATS connection closed' : '', exitCode: lost ? 1 : 0 };
}

/** The loop's budgets: the defaults (none with --no-budgets), each flag over them. */
export function budgetsOf(options: ControllerCommandOptions): TurnBudgets {
  return {
    ...(options.budgets === false ? NO_TURN_BUDGETS : DEFAULT_TURN_BUDGETS),
    ...(options.minGain !== undefined ? { minGain: options.minGain } : {}),
    ...(options.moveHold !== undefined ? { moveHoldMs: options.moveHold } : {}),
    ...(options.maxMigrations !== undefined ? { maxMigrations: options.maxMigrations } : {}),
    ...(options.maxMigratedMem !== undefined ? { maxMigratedMiB: options.maxMigratedMem } : {}),
  };
}

/** Checked before anything starts: a template that does not parse is one line naming the option. */
export function parseBootCommand(text: string | undefined): CommandTemplate | undefined {
  if (text === undefined) return undefined;
  try {
    return parseCommandTemplate(text, {
      option: '--boot-command',
      placeholders: BOOT_COMMAND_PLACEHOLDERS,
      required: ['node'],
    });
  } catch (err) {
    if (err instanceof CommandTemplateError)
      throw new EntropyError(ErrorCode.InvalidOption, err.message, { cause: err });
    throw err;
  }
}

function signalled(): AbortSignal {
  const ac = new AbortController();
  for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => ac.abort());
  return ac.signal;
}
