import { setTimeout as delay } from 'node:timers/promises';
import type { Msg, NatsConnection, Subscription } from '@nats-io/transport-node';
import {
  ActionErrorCode,
  type ActionRequest,
  type ActionResult,
  decode,
  encode,
  encodeTyped,
  executingNode,
  type NodeStatus,
  type SimLinkReply,
  type SimLinkRequest,
  type Subjects,
  subjects as subjectsOf,
} from '@entropy/protocol';
import { ActionLedger } from './action-ledger.ts';
import { DriverError, type HypervisorDriver } from './drivers/driver.ts';
import type { SimDriver } from './drivers/sim-driver.ts';
import { STATE_AFTER } from './drivers/state-after.ts';

/** The logging the agent needs; a pino logger fits. */
export interface AgentLogger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
  debug(obj: object, msg?: string): void;
}

export interface AgentOptions {
  readonly node: string;
  readonly prefix?: string;
  readonly capacity: Readonly<Record<string, number>>;
  readonly driver: HypervisorDriver;
  readonly statusIntervalMs?: number;
  /**
   * After an action ends, the status is published this much later, once for every action that
   * ended meanwhile. The result already carries the VM's new state; a full status per action cost
   * the agent and the controller's monitor half of a step barrier's time.
   */
  readonly statusAfterActionMs?: number;
  /** First delay between unanswered hellos; doubles up to 5 s. */
  readonly helloIntervalMs?: number;
  readonly logger: AgentLogger;
  readonly now?: () => number;
}

export const DEFAULT_STATUS_INTERVAL_MS = 2000;
export const DEFAULT_STATUS_AFTER_ACTION_MS = 100;
export const DEFAULT_HELLO_INTERVAL_MS = 1000;
const MAX_HELLO_INTERVAL_MS = 5000;

export interface Agent {
  /** Refuses new actions, waits for the running ones, then drains the connection. */
  stop(): Promise<void>;
  /** Resolves once the hello was acknowledged (tests, the demo). */
  readonly announced: Promise<void>;
}

/** Answers a request that could not be decoded; the action id is unknown then. */
function badRequest(node: string, field: string, reason: string, code = ActionErrorCode.BadRequest): ActionResult {
  return { actionId: '', node, ok: false, error: { code, message: `${field}: ${reason}`, field }, durationMs: 0 };
}

/**
 * The node agent: announces itself, publishes the node's status, and executes the actions sent to
 * it through the injected driver, once per action id.
 */
export async function startAgent(nc: NatsConnection, opts: AgentOptions): Promise<Agent> {
  const { node, driver, logger } = opts;
  const s: Subjects = subjectsOf(opts.prefix);
  const now = opts.now ?? Date.now;
  const startedAt = now();
  const ledger = new ActionLedger();
  /** What action requests told about each VM: its vjob and demand, for status. */
  const meta = new Map<string, Pick<ActionRequest, 'vjob' | 'demand'>>();
  let inFlight = 0;
  let seq = 0;
  let stopping = false;
  const stopped = new AbortController();
  const statusAfterActionMs = opts.statusAfterActionMs ?? DEFAULT_STATUS_AFTER_ACTION_MS;
  let statusSoon: NodeJS.Timeout | undefined;

  /** One status for every action that ends before it is sent. */
  function publishStatusSoon(): void {
    statusSoon ??= setTimeout(() => {
      statusSoon = undefined;
      void publishStatus();
    }, statusAfterActionMs);
  }

  async function publishStatus(): Promise<void> {
    if (statusSoon) {
      clearTimeout(statusSoon);
      statusSoon = undefined;
    }
    let vms;
    try {
      vms = await driver.list();
    } catch (err) {
      logger.warn({ err: (err as Error).message }, 'cannot list VMs; status not published');
      return;
    }
    const status: NodeStatus = {
      node,
      seq: seq++,
      ts: now(),
      driver: driver.name,
      capacity: { ...opts.capacity },
      // Spelled out: a spread followed by more properties is a slow path of V8 (about 2 µs an object here).
      vms: vms.map((v) => {
        const m = meta.get(v.id);
        return { id: v.id, state: v.state, host: node, ...(v.cpu !== undefined ? { cpu: v.cpu } : {}), ...(v.mem !== undefined ? { mem: v.mem } : {}), ...(m ? { vjob: m.vjob, demand: m.demand } : {}) };
      }),
      inFlight,
    };
    if (!nc.isClosed() && !nc.isDraining()) nc.publish(s.nodeStatus(node), encodeTyped<'status'>(status));
  }

  async function execute(req: ActionRequest): Promise<ActionResult> {
    meta.set(req.vm, { vjob: req.vjob, demand: req.demand });
    inFlight++;
    const t0 = performance.now();
    logger.info({ actionId: req.actionId, planId: req.planId, type: req.type, vm: req.vm, from: req.from, to: req.to }, 'action started');
    try {
      await driver[req.type](req);
      const durationMs = Math.round((performance.now() - t0) * 1000) / 1000;
      const state = STATE_AFTER[req.type];
      const host = req.type === 'migrate' ? req.to : state === 'terminated' ? undefined : node;
      if (req.type === 'migrate' || state === 'terminated') meta.delete(req.vm);
      logger.info({ actionId: req.actionId, type: req.type, vm: req.vm, durationMs }, 'action done');
      return { actionId: req.actionId, node, ok: true, durationMs, state, ...(host ? { host } : {}) };
    } catch (err) {
      const durationMs = Math.round((performance.now() - t0) * 1000) / 1000;
      const code = err instanceof DriverError ? err.code : ActionErrorCode.DriverFailed;
      const message = err instanceof Error ? err.message : String(err);
      logger.warn({ actionId: req.actionId, type: req.type, vm: req.vm, durationMs, code, err: message }, 'action failed');
      return { actionId: req.actionId, node, ok: false, error: { code, message }, durationMs };
    } finally {
      inFlight--;
      publishStatusSoon();
    }
  }

  function reply(m: Msg, result: ActionResult): void {
    if (!m.reply) {
      logger.warn({ subject: m.subject, actionId: result.actionId }, 'action published without a reply subject; result dropped');
      return;
    }
    try {
      m.respond(encode('actionResult', result));
    } catch (err) {
      logger.error({ err: (err as Error).message, actionId: result.actionId }, 'cannot send action result');
    }
  }

  async function handleAction(m: Msg): Promise<void> {
    const r = decode('actionRequest', m.data);
    if (!r.ok) {
      logger.warn({ subject: m.subject, ...r.error }, 'malformed action request');
      return reply(m, badRequest(node, r.error.field, r.error.reason));
    }
    const req = r.msg;
    if (executingNode(req) !== node) {
      return reply(m, {
        actionId: req.actionId,
        node,
        ok: false,
        error: { code: ActionErrorCode.WrongNode, message: `${req.type} ${req.vm} runs on ${executingNode(req)}, not ${node}` },
        durationMs: 0,
      });
    }
    if (stopping && !ledger.has(req.actionId)) {
      return reply(m, { actionId: req.actionId, node, ok: false, error: { code: ActionErrorCode.ShuttingDown, message: `${node} is shutting down` }, durationMs: 0 });
    }
    const outcome = ledger.submit(req, () => execute(req));
    if (outcome.kind === 'conflict') {
      return reply(m, {
        actionId: req.actionId,
        node,
        ok: false,
        error: { code: ActionErrorCode.ActionIdReused, message: `action id ${req.actionId} was ${outcome.first.type} ${outcome.first.vm}, now ${req.type} ${req.vm}` },
        durationMs: 0,
      });
    }
    if (outcome.kind === 'duplicate') logger.info({ actionId: req.actionId }, 'retried action id: not run again');
    const result = await outcome.result;
    reply(m, outcome.kind === 'duplicate' ? { ...result, deduplicated: true } : result);
  }

  async function serve(sub: Subscription, handle: (m: Msg) => Promise<void>): Promise<void> {
    for await (const m of sub) {
      handle(m).catch((err: unknown) => logger.error({ err: (err as Error)?.message, subject: m.subject }, 'handler failed'));
    }
  }

  async function announce(): Promise<void> {
    let wait = opts.helloIntervalMs ?? DEFAULT_HELLO_INTERVAL_MS;
    const hello = encode('hello', { node, driver: driver.name, capacity: { ...opts.capacity }, startedAt, pid: process.pid });
    while (!stopped.signal.aborted) {
      try {
        const m = await nc.request(s.nodeHello(node), hello, { timeout: Math.max(1000, wait) });
        const ack = decode('helloAck', m.data);
        if (ack.ok) {
          logger.info({ by: ack.msg.by }, 'announced');
          return;
        }
        logger.warn({ ...ack.error }, 'malformed hello acknowledgement');
      } catch (err) {
        logger.debug({ err: (err as Error).message }, 'hello not acknowledged yet');
      }
      await delay(wait, undefined, { signal: stopped.signal }).catch(() => {});
      wait = Math.min(wait * 2, MAX_HELLO_INTERVAL_MS);
    }
  }

  const actionSub = nc.subscribe(s.nodeAction(node));
  void serve(actionSub, handleAction);

  const sim = driver as Partial<SimDriver>;
  if (typeof sim.receiveFromPeer === 'function') {
    const receive = sim.receiveFromPeer.bind(driver);
    void serve(nc.subscribe(s.simLink(node)), async (m) => {
      const r = decode('simLinkRequest', m.data);
      const out: SimLinkReply = r.ok
        ? await receive(r.msg)
        : { ok: false, error: { code: ActionErrorCode.BadRequest, message: `${r.error.field}: ${r.error.reason}`, field: r.error.field } };
      if (m.reply) m.respond(encode('simLinkReply', out));
    });
  }

  const announced = announce();
  void (async () => {
    for await (const st of nc.status()) {
      if (st.type === 'reconnect' && !stopped.signal.aborted) {
        logger.info({}, 'reconnected; announcing again');
        void announce();
      }
    }
  })();

  void publishStatus();
  const statusTimer = setInterval(() => void publishStatus(), opts.statusIntervalMs ?? DEFAULT_STATUS_INTERVAL_MS);
  logger.info({ prefix: s.prefix, driver: driver.name, capacity: opts.capacity }, 'agent started');

  return {
    announced,
    async stop() {
      if (stopping) return;
      stopping = true;
      stopped.abort();
      clearInterval(statusTimer);
      const running = ledger.pending();
      if (running.length > 0) logger.info({ running: running.length }, 'waiting for running actions');
      await Promise.allSettled(running);
      // The last actions' status goes out now rather than never.
      if (statusSoon) await publishStatus();
      await driver.close?.();
      await nc.drain();
      logger.info({}, 'agent stopped');
    },
  };
}

/** For sim drivers: how one agent hands a VM or an image to another one, over NATS. */
export function natsSimPeers(nc: NatsConnection, prefix?: string) {
  const s = subjectsOf(prefix);
  return async (to: string, req: SimLinkRequest): Promise<SimLinkReply> => {
    try {
      const m = await nc.request(s.simLink(to), encode('simLinkRequest', req), { timeout: 10_000 });
      const r = decode('simLinkReply', m.data);
      return r.ok ? r.msg : { ok: false, error: { code: ActionErrorCode.DriverFailed, message: `bad reply from ${to}: ${r.error.reason}` } };
    } catch (err) {
      return { ok: false, error: { code: ActionErrorCode.DriverFailed, message: `${to} unreachable: ${(err as Error).message}` } };
    }
  };
}
