import {
  ActionErrorCode,
  commandArgv,
  type CommandTemplate,
  decode,
  describeCommand,
  isFinalActionError,
  type Logger,
  type PowerReply,
} from '@entropy/protocol';
import { DriverError, type HypervisorDriver } from './drivers/driver.ts';
import type { CommandRunner } from './drivers/exec.ts';
import type { AgentState } from './state/agent-state.ts';

export interface PowerOffOptions {
  readonly node: string;
  readonly driver: HypervisorDriver;
  readonly state: AgentState;
  readonly logger: Logger;
  /** `--shutdown-command`: what powers the node off. Without one, only the sim driver powers off (simulated: the agent stops). */
  readonly command?: CommandTemplate;
  readonly run: CommandRunner;
  /**
   * Refuses new actions while the shutdown is decided (true), or serves them again after a refusal
   * (false): an action that started between the check and the power-off would be lost with the node.
   */
  holdActions(hold: boolean): void;
}

/** A power request's reply, and whether the node is going down (the agent stops serving once the reply is out). */
export interface PowerOffOutcome {
  readonly reply: PowerReply;
  readonly poweredOff: boolean;
}

const elapsedSince = (t0: number) => Math.round((performance.now() - t0) * 1000) / 1000;

/**
 * `PREFIX.node.<node>.power`: powers the node off, once. Refused while the node holds a VM, an
 * image or a running action (the engine plans a shutdown after every VM and image has left, so
 * anything still here is something the controller does not see), or from a deposed leader. Then
 * the shutdown command runs (it must return before the machine goes down: `systemctl poweroff
 * --no-block`, say), and the reply says ok. A repeat of the same request waits for the same outcome.
 */
export function powerOffHandler(opts: PowerOffOptions): (data: Uint8Array) => Promise<PowerOffOutcome> {
  const { node, driver, state, logger } = opts;
  let current: { readonly actionId: string; readonly outcome: Promise<PowerOffOutcome> } | undefined;
  const simulated = opts.command === undefined && driver.name === 'sim';

  const refuse = (
    actionId: string,
    code: ActionErrorCode,
    message: string,
    t0: number,
    field?: string,
  ): PowerOffOutcome => ({
    reply: {
      actionId,
      node,
      ok: false,
      error: { code, message, ...(field !== undefined ? { field } : {}) },
      durationMs: elapsedSince(t0),
      final: isFinalActionError(code),
    },
    poweredOff: false,
  });

  async function powerOff(actionId: string, timeoutMs: number, token: number | undefined): Promise<PowerOffOutcome> {
    const t0 = performance.now();
    if (opts.command === undefined && !simulated) {
      return refuse(
        actionId,
        ActionErrorCode.PowerUnsupported,
        `${node} cannot power off: start its agent with --shutdown-command 'CMD' (the ${driver.name} driver has no simulated power-off)`,
        t0,
      );
    }
    try {
      const verdict = state.token.admit(token);
      if (!verdict.ok)
        return refuse(
          actionId,
          ActionErrorCode.StaleLeader,
          `token ${token} is older than ${verdict.newest}, the newest ${node} has seen: the request comes from a deposed leader`,
          t0,
        );
    } catch (err) {
      return refuse(actionId, ActionErrorCode.StateDir, `not powered off: ${(err as Error).message}`, t0);
    }
    opts.holdActions(true);
    let goingDown = false;
    try {
      const running = state.ledger.running();
      const held = (await driver.list()).filter((vm) => vm.state !== 'terminated');
      if (running.length > 0 || held.length > 0) {
        const what = [
          ...(held.length > 0
            ? [
                `VMs or images ${held
                  .slice(0, 10)
                  .map((v) => `${v.id} (${v.state})`)
                  .join(', ')}${held.length > 10 ? ', ...' : ''}`,
              ]
            : []),
          ...(running.length > 0
            ? [
                `running actions ${running
                  .slice(0, 10)
                  .map((a) => a.actionId)
                  .join(', ')}`,
              ]
            : []),
        ];
        return refuse(
          actionId,
          ActionErrorCode.NodeNotEmpty,
          `${node} still holds ${what.join(' and ')}: not powered off`,
          t0,
        );
      }
      if (opts.command) {
        const argv = commandArgv(opts.command, { node });
        logger.info({ actionId, command: describeCommand(argv) }, 'powering off: running the shutdown command');
        await opts.run(argv[0]!, argv.slice(1), { timeoutMs });
      } else logger.info({ actionId }, 'powering off (simulated: the agent stops)');
      goingDown = true;
      return { reply: { actionId, node, ok: true, durationMs: elapsedSince(t0) }, poweredOff: true };
    } catch (err) {
      const code = err instanceof DriverError ? err.code : ActionErrorCode.DriverFailed;
      logger.warn({ actionId, code, err: (err as Error).message }, 'power-off failed: the node keeps serving');
      return refuse(actionId, code, (err as Error).message, t0);
    } finally {
      if (!goingDown) opts.holdActions(false);
    }
  }

  return async (data) => {
    const r = decode('powerRequest', data);
    if (!r.ok) {
      logger.warn({ ...r.error }, 'malformed power request');
      return refuse(
        '',
        ActionErrorCode.BadRequest,
        `${r.error.field}: ${r.error.reason}`,
        performance.now(),
        r.error.field,
      );
    }
    const req = r.msg;
    if (current?.actionId === req.actionId) return current.outcome;
    if (current !== undefined)
      return refuse(
        req.actionId,
        ActionErrorCode.ShuttingDown,
        `${node} is already powering off (${current.actionId})`,
        performance.now(),
      );
    const outcome = powerOff(req.actionId, req.timeoutMs, req.token);
    current = { actionId: req.actionId, outcome };
    // A refused or failed power-off may be asked again, with the same id or another.
    void outcome.then((o) => {
      if (!o.poweredOff && current?.outcome === outcome) current = undefined;
    });
    return outcome;
  };
}
