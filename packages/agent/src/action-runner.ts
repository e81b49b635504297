import { setTimeout as delay } from 'node:timers/promises';
import {
  ActionErrorCode,
  type ActionRequest,
  type ActionResult,
  decode,
  executingNode,
  isFinalActionError,
  type Logger,
  STATE_AFTER,
  type WireVMState,
} from '@entropy/protocol';
import { DriverError, type HypervisorDriver } from './drivers/driver.ts';
import type { AgentState } from './state/agent-state.ts';
import { StateDirError } from './state/state-dir.ts';

/** A failed result the agent answers without running anything; `final` follows the code. */
export function refusal(
  node: string,
  actionId: string,
  code: ActionErrorCode,
  message: string,
  field?: string,
): ActionResult {
  return {
    actionId,
    node,
    ok: false,
    error: { code, message, ...(field !== undefined ? { field } : {}) },
    durationMs: 0,
    final: isFinalActionError(code),
  };
}

/** Milliseconds with µs precision. */
const msBetween = (from: number, to: number) => Math.round((to - from) * 1000) / 1000;
/** Epoch ms with µs precision on the monotonic clock: comparable across the agents of one machine. */
const epochAt = (t: number) => Math.round((performance.timeOrigin + t) * 1000) / 1000;
/** A request's deadline further ahead than this says the clocks disagree: it is not waited for longer. */
const MAX_NOT_BEFORE_WAIT_MS = 1000;

/**
 * Waits until the epoch instant `at` (a vjob's common start), at most MAX_NOT_BEFORE_WAIT_MS. The
 * actions of one deadline share one timer: their calls then start in the same turn of the event
 * loop, one after the other, with nothing in between (timers rounded to different milliseconds
 * fire in different turns, and another turn's work, a process started, can run between them).
 */
function deadlines(): (at: number) => Promise<void> {
  const timers = new Map<number, Promise<void>>();
  return (at) => {
    const wait = at - (performance.timeOrigin + performance.now());
    if (wait <= 0) return Promise.resolve();
    let timer = timers.get(at);
    if (!timer) {
      timer = delay(Math.min(wait, MAX_NOT_BEFORE_WAIT_MS)).then(() => void timers.delete(at));
      timers.set(at, timer);
    }
    return timer;
  };
}

export interface ActionRunnerOptions {
  readonly node: string;
  readonly driver: HypervisorDriver;
  readonly state: AgentState;
  readonly logger: Logger;
  /** True once the agent stops: new action ids are refused. */
  readonly stopping: () => boolean;
  /** Called when an action ends (the agent publishes a status soon after). */
  readonly ended: () => void;
}

/**
 * The action path of the agent: a request's bytes in, its result out. Each action id runs at
 * most once, across restarts (the ledger); a request from a deposed leader never runs (the
 * fencing token); the VM's vjob and demand are kept for status (the metadata store).
 */
export function actionRunner(opts: ActionRunnerOptions): (data: Uint8Array) => Promise<ActionResult> {
  const { node, driver, logger } = opts;
  const { ledger, meta, token } = opts.state;
  const until = deadlines();

  async function perform(req: ActionRequest): Promise<WireVMState> {
    if (req.type === 'migrate') return (await driver.migrate(req)).state;
    await driver[req.type](req);
    return STATE_AFTER[req.type];
  }

  async function execute(req: ActionRequest): Promise<ActionResult> {
    const metaBefore = meta.get(req.vm);
    logger.info(
      {
        actionId: req.actionId,
        planId: req.planId,
        type: req.type,
        vm: req.vm,
        from: req.from,
        to: req.to,
        token: req.token,
        notBefore: req.notBefore,
      },
      'action started',
    );
    // The driver call's start: after the metadata is kept and the request's deadline has come.
    let called = performance.now();
    try {
      meta.set(req.vm, { vjob: req.vjob, demand: req.demand });
      if (req.notBefore !== undefined) await until(req.notBefore);
      called = performance.now();
      const state = await perform(req);
      const ended = performance.now();
      const durationMs = msBetween(called, ended);
      const host = req.type === 'migrate' ? req.to : state === 'terminated' ? undefined : node;
      // The VM left the node: its metadata goes with it.
      if (req.type === 'migrate' || state === 'terminated') meta.delete(req.vm);
      logger.info({ actionId: req.actionId, type: req.type, vm: req.vm, durationMs }, 'action done');
      return {
        actionId: req.actionId,
        node,
        ok: true,
        durationMs,
        startedAt: epochAt(called),
        endedAt: epochAt(ended),
        state,
        ...(host ? { host } : {}),
      };
    } catch (err) {
      const ended = performance.now();
      const durationMs = msBetween(called, ended);
      const code =
        err instanceof DriverError
          ? err.code
          : err instanceof StateDirError
            ? ActionErrorCode.StateDir
            : ActionErrorCode.DriverFailed;
      const final = err instanceof DriverError && err.final !== undefined ? err.final : isFinalActionError(code);
      const message = err instanceof Error ? err.message : String(err);
      try {
        meta.restore(req.vm, metaBefore);
      } catch (metaErr) {
        logger.error({ vm: req.vm, err: (metaErr as Error).message }, 'cannot restore VM metadata');
      }
      logger.warn(
        { actionId: req.actionId, type: req.type, vm: req.vm, durationMs, code, final, err: message },
        'action failed',
      );
      return {
        actionId: req.actionId,
        node,
        ok: false,
        error: { code, message },
        durationMs,
        startedAt: epochAt(called),
        endedAt: epochAt(ended),
        final,
      };
    } finally {
      opts.ended();
    }
  }

  /** Every answer to a request echoes its nonce: the executor takes a result only with the nonce it sent. */
  return async (data) => {
    const r = decode('actionRequest', data);
    if (!r.ok) {
      logger.warn({ ...r.error }, 'malformed action request');
      return refusal(node, '', ActionErrorCode.BadRequest, `${r.error.field}: ${r.error.reason}`, r.error.field);
    }
    const result = await answer(r.msg);
    return r.msg.nonce !== undefined ? { ...result, nonce: r.msg.nonce } : result;
  };

  async function answer(req: ActionRequest): Promise<ActionResult> {
    if (executingNode(req) !== node) {
      return refusal(
        node,
        req.actionId,
        ActionErrorCode.WrongNode,
        `${req.type} ${req.vm} runs on ${executingNode(req)}, not ${node}`,
      );
    }
    // A recorded id is answered from the ledger, whatever its token: it ran (or started) under the leader of its time.
    let outcome = ledger.recorded(req);
    if (!outcome) {
      if (opts.stopping()) return refusal(node, req.actionId, ActionErrorCode.ShuttingDown, `${node} is shutting down`);
      try {
        const verdict = token.admit(req.token);
        if (!verdict.ok) {
          logger.warn(
            { actionId: req.actionId, token: req.token, newest: verdict.newest },
            'request from a deposed leader refused',
          );
          return refusal(
            node,
            req.actionId,
            ActionErrorCode.StaleLeader,
            `token ${req.token} is older than ${verdict.newest}, the newest ${node} has seen: the request comes from a deposed leader`,
          );
        }
        outcome = ledger.submit(req, () => execute(req));
      } catch (err) {
        logger.error({ actionId: req.actionId, err: (err as Error).message }, 'cannot record the action; not run');
        return refusal(node, req.actionId, ActionErrorCode.StateDir, `not run: ${(err as Error).message}`);
      }
    }
    if (outcome.kind === 'conflict') {
      return refusal(
        node,
        req.actionId,
        ActionErrorCode.ActionIdReused,
        `action id ${req.actionId} was ${outcome.first.type} ${outcome.first.vm}, now ${req.type} ${req.vm}`,
      );
    }
    if (outcome.kind === 'duplicate') logger.info({ actionId: req.actionId }, 'retried action id: not run again');
    const result = await outcome.result;
    return outcome.kind === 'duplicate' ? { ...result, deduplicated: true } : result;
  }
}
