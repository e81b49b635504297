import { setTimeout as delay } from 'node:timers/promises';
import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import {
  ActionErrorCode,
  type CommandTemplate,
  decode,
  encode,
  type Logger,
  type SimLinkReply,
  type SimLinkRequest,
  type Subjects,
  subjects as subjectsOf,
} from '@entropy/protocol';
import { actionRunner } from './action-runner.ts';
import { respond, serveRequests } from './request-serving.ts';
import { StatusPublisher } from './status-publisher.ts';
import type { HypervisorDriver } from './drivers/driver.ts';
import { type CommandRunner, execRunner } from './drivers/exec.ts';
import type { SimDriver } from './drivers/sim-driver.ts';
import { answerLedgerQuery, answerSimLink, answerVmMeta } from './node-requests.ts';
import { powerOffHandler } from './power-off.ts';
import { type AgentState, memoryAgentState } from './state/agent-state.ts';

export type { Logger } from '@entropy/protocol';

export interface AgentOptions {
  readonly node: string;
  readonly prefix?: string;
  readonly capacity: Readonly<Record<string, number>>;
  readonly driver: HypervisorDriver;
  /** What outlives the agent (`openAgentState`); in memory only when absent. The agent closes it when it stops. */
  readonly state?: AgentState;
  readonly statusIntervalMs?: number;
  /**
   * After an action ends, the status is published this much later, once for every action that
   * ended meanwhile. The result already carries the VM's new state; a full status per action cost
   * the agent and the controller's monitor half of a step barrier's time.
   */
  readonly statusAfterActionMs?: number;
  /** First delay between unanswered hellos; doubles up to 5 s. */
  readonly helloIntervalMs?: number;
  readonly logger: Logger;
  readonly now?: () => number;
  /** `--shutdown-command`: run when the controller powers the node off. The sim driver simulates a power-off without one. */
  readonly shutdownCommand?: CommandTemplate;
  /** Runs the shutdown command (tests record it); child processes without a shell by default. */
  readonly runCommand?: CommandRunner;
}

export const DEFAULT_STATUS_INTERVAL_MS = 2000;
export const DEFAULT_STATUS_AFTER_ACTION_MS = 100;
export const DEFAULT_HELLO_INTERVAL_MS = 1000;
const MAX_HELLO_INTERVAL_MS = 5000;
/** nats-server's default limit on a message, when the server does not say. */
const DEFAULT_MAX_PAYLOAD = 1024 * 1024;

export interface Agent {
  /** Refuses new actions, waits for the running ones, then drains the connection. */
  stop(): Promise<void>;
  /** Resolves once the hello was acknowledged (tests, the demo). */
  readonly announced: Promise<void>;
  /**
   * Resolves once the controller powered the node off and the agent, having replied, stopped (as
   * after `stop()`): the process should exit, as a powered-off node's agent would.
   */
  readonly poweredOff: Promise<void>;
  /** True once the agent began to stop (asked to, or powering off): its connection closing is expected. */
  stopping(): boolean;
}

/**
 * The node agent: announces itself, publishes the node's status, executes the actions sent to it
 * through the injected driver, once per action id, and answers the controller's questions about
 * past actions and VM metadata.
 */
export async function startAgent(nc: NatsConnection, opts: AgentOptions): Promise<Agent> {
  const { node, driver, logger } = opts;
  const s: Subjects = subjectsOf(opts.prefix);
  const now = opts.now ?? Date.now;
  const startedAt = now();
  const state = opts.state ?? memoryAgentState(node);
  const { ledger } = state;
  let stopping = false;
  /** True while a power-off is decided and once it is under way: new actions are refused. */
  let poweringOff = false;
  const stopped = new AbortController();
  const statusAfterActionMs = opts.statusAfterActionMs ?? DEFAULT_STATUS_AFTER_ACTION_MS;

  if (state.recovery.interrupted.length > 0) {
    logger.warn(
      { interrupted: state.recovery.interrupted },
      'actions cut short by the previous agent process: never run again',
    );
  }
  if (state.recovery.badLines > 0)
    logger.warn({ badLines: state.recovery.badLines }, 'unreadable action ledger lines skipped');

  const status = new StatusPublisher({
    nc,
    subjects: s,
    node,
    driver,
    state,
    capacity: opts.capacity,
    logger,
    now,
    afterActionMs: statusAfterActionMs,
  });

  const runAction = actionRunner({
    node,
    driver,
    state,
    logger,
    stopping: () => stopping || poweringOff,
    ended: status.soon,
  });

  const serve = (sub: Subscription, answer: (data: Uint8Array) => Uint8Array | Promise<Uint8Array>) =>
    serveRequests(sub, answer, logger);

  async function announce(): Promise<void> {
    let wait = opts.helloIntervalMs ?? DEFAULT_HELLO_INTERVAL_MS;
    const hello = encode('hello', {
      node,
      driver: driver.name,
      capacity: { ...opts.capacity },
      startedAt,
      pid: process.pid,
    });
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

  void serve(nc.subscribe(s.nodeAction(node)), async (data) => encode('actionResult', await runAction(data)));
  void serve(nc.subscribe(s.nodeLedger(node)), (data) =>
    answerLedgerQuery(node, state, data, nc.info?.max_payload ?? DEFAULT_MAX_PAYLOAD),
  );
  void serve(nc.subscribe(s.nodeMeta(node)), (data) => {
    const ack = answerVmMeta(node, state, data, logger);
    status.soon();
    return ack;
  });

  const powerOff = powerOffHandler({
    node,
    driver,
    state,
    logger,
    ...(opts.shutdownCommand ? { command: opts.shutdownCommand } : {}),
    run: opts.runCommand ?? execRunner(),
    holdActions: (hold) => void (poweringOff = hold),
  });
  let wentDown: () => void = () => {};
  const poweredOff = new Promise<void>((resolve) => (wentDown = resolve));
  /** The reply goes out and reaches the server before the agent stops: it is the end of the controller's action. */
  void (async () => {
    for await (const m of nc.subscribe(s.nodePower(node))) {
      const outcome = await powerOff(m.data).catch((err: Error) => {
        logger.error({ err: err.message }, 'power request handler failed');
        return undefined;
      });
      if (!outcome) continue;
      respond(m, encode('powerReply', outcome.reply), logger);
      if (!outcome.poweredOff || stopping) continue;
      await nc.flush().catch(() => undefined);
      logger.info({ actionId: outcome.reply.actionId }, 'powered off: the agent stops');
      await stop();
      wentDown();
      return;
    }
  })();

  const sim = driver as Partial<SimDriver>;
  if (typeof sim.receiveFromPeer === 'function') {
    const receive = sim.receiveFromPeer.bind(driver);
    void serve(nc.subscribe(s.simLink(node)), (data) => answerSimLink(state, data, receive, logger));
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

  // At once: a restarted agent tells what its node holds before anyone plans with an old view.
  void status.publish(true);
  const statusTimer = setInterval(() => void status.publish(), opts.statusIntervalMs ?? DEFAULT_STATUS_INTERVAL_MS);
  logger.info({ prefix: s.prefix, driver: driver.name, capacity: opts.capacity, stateDir: state.dir }, 'agent started');

  async function stop(): Promise<void> {
    if (stopping) return;
    stopping = true;
    stopped.abort();
    clearInterval(statusTimer);
    const running = ledger.pending();
    if (running.length > 0) logger.info({ running: running.length }, 'waiting for running actions');
    await Promise.allSettled(running);
    // The last actions' status goes out now rather than never.
    if (status.pending()) await status.publish();
    await driver.close?.();
    await nc.drain();
    state.close();
    logger.info({}, 'agent stopped');
  }

  return { announced, poweredOff, stop, stopping: () => stopping };
}

/** For sim drivers: how one agent hands a VM or an image to another one, over NATS. */
export function natsSimPeers(nc: NatsConnection, prefix?: string) {
  const s = subjectsOf(prefix);
  return async (to: string, req: SimLinkRequest): Promise<SimLinkReply> => {
    try {
      const m = await nc.request(s.simLink(to), encode('simLinkRequest', req), { timeout: 10_000 });
      const r = decode('simLinkReply', m.data);
      return r.ok
        ? r.msg
        : {
            ok: false,
            error: { code: ActionErrorCode.DriverFailed, message: `bad reply from ${to}: ${r.error.reason}` },
          };
    } catch (err) {
      return {
        ok: false,
        error: { code: ActionErrorCode.DriverFailed, message: `${to} unreachable: ${(err as Error).message}` },
      };
    }
  };
}
