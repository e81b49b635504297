import { setTimeout as delay } from 'node:timers/promises';
import type { NatsConnection } from '@nats-io/transport-node';
import {
  ActionErrorCode,
  commandArgv,
  type CommandTemplate,
  decode,
  describeCommand,
  encode,
  type Logger,
  type Subjects,
} from '@entropy/protocol';
import { type NodePower, NodePowerError, NodePowerErrorCode, type NodePowerRequest } from '../executor/index.ts';
import type { NatsMonitor } from '../monitor/index.ts';
import { type BootCommandRunner, runBootCommand } from './boot-command.ts';
import { isNoResponders } from './nats-connect.ts';

/** How long a boot may take, from the command's start to the agent's first status (`--boot-timeout`). */
export const DEFAULT_BOOT_TIMEOUT_MS = 5 * 60 * 1000;
/** The placeholders of `--boot-command`. */
export const BOOT_COMMAND_PLACEHOLDERS = ['node'] as const;

export interface NatsNodePowerOptions {
  readonly subjects: Subjects;
  readonly monitor: Pick<NatsMonitor, 'markPoweredOff' | 'bootedSince' | 'isPoweredOff' | 'isOffline' | 'nodes'>;
  readonly logger: Logger;
  /** `--boot-command`: without one, boots are unsupported (the plan is refused, naming the option). */
  readonly bootCommand?: CommandTemplate;
  readonly bootTimeoutMs?: number;
  readonly runBoot?: BootCommandRunner;
  /** A shutdown completed: the node is offline now (the controller records it). */
  onPoweredOff(node: string): void;
  readonly now?: () => number;
}

/**
 * The controller's NodePower. A shutdown is a request to the node's agent
 * (`PREFIX.node.<node>.power`); its ok reply ends the action, and the monitor takes the node
 * offline at once rather than after three silent periods. A boot runs `--boot-command` with the
 * node's id, then waits until an agent of that node has said hello and published a status, which
 * is what makes the node usable by the next plan; past `bootTimeoutMs` it fails.
 */
export function natsNodePower(nc: NatsConnection, options: NatsNodePowerOptions): NodePower {
  const { subjects: s, monitor, logger } = options;
  const now = options.now ?? Date.now;
  const bootTimeoutMs = options.bootTimeoutMs ?? DEFAULT_BOOT_TIMEOUT_MS;
  const runBoot = options.runBoot ?? runBootCommand;

  async function shutdown(req: NodePowerRequest): Promise<void> {
    const { node } = req;
    const msg = {
      actionId: req.wireId,
      planId: req.planId,
      type: 'shutdownNode' as const,
      timeoutMs: req.timeoutMs,
      ...(req.token !== undefined ? { token: req.token } : {}),
    };
    let data: Uint8Array;
    try {
      // The agent runs its shutdown command under timeoutMs; one second more for its reply.
      data = (await nc.request(s.nodePower(node), encode('powerRequest', msg), { timeout: req.timeoutMs + 1000 })).data;
    } catch (err) {
      if (isNoResponders(err))
        throw new NodePowerError(
          NodePowerErrorCode.NoAgent,
          node,
          `no agent serves ${s.nodePower(node)}: ${node} is down already, or its agent is older than this controller`,
          { cause: err },
        );
      throw new NodePowerError(
        ActionErrorCode.DriverTimeout,
        node,
        `shutdown of ${node}: no reply within ${req.timeoutMs + 1000} ms (${(err as Error).message})`,
        { uncertain: true, cause: err },
      );
    }
    const r = decode('powerReply', data);
    if (!r.ok)
      throw new NodePowerError(
        ActionErrorCode.BadRequest,
        node,
        `malformed reply from ${node}: ${r.error.field}: ${r.error.reason}`,
        { uncertain: true },
      );
    if (!r.msg.ok)
      throw new NodePowerError(r.msg.error!.code, node, r.msg.error!.message, { final: r.msg.final === true });
    monitor.markPoweredOff(node);
    options.onPoweredOff(node);
    logger.info({ node, actionId: req.wireId, durationMs: r.msg.durationMs }, 'node powered off');
  }

  async function boot(req: NodePowerRequest): Promise<void> {
    const { node } = req;
    if (!options.bootCommand)
      throw new NodePowerError(NodePowerErrorCode.BootFailed, node, unsupportedBoot, { final: true });
    // Booted behind the plan's back (an operator started it): nothing to do.
    if (
      !monitor.isOffline(node) &&
      !monitor.isPoweredOff(node) &&
      monitor.nodes().some((n) => n.id === node && n.liveness === 'online')
    )
      return;
    const since = now();
    const deadline = since + bootTimeoutMs;
    const argv = commandArgv(options.bootCommand, { node });
    logger.info(
      { node, actionId: req.wireId, command: describeCommand(argv) },
      'booting a node: running the boot command',
    );
    await runBoot(argv, { node, timeoutMs: bootTimeoutMs, ...(req.signal ? { signal: req.signal } : {}) });
    while (!monitor.bootedSince(node, since)) {
      if (req.signal?.aborted)
        throw new NodePowerError(NodePowerErrorCode.Aborted, node, `boot of ${node} abandoned: the plan was stopped`, {
          uncertain: true,
        });
      if (now() > deadline)
        throw new NodePowerError(
          NodePowerErrorCode.BootTimeout,
          node,
          `${node}'s agent did not say hello and report within ${bootTimeoutMs} ms of the boot command (--boot-timeout)`,
          { uncertain: true },
        );
      await delay(100);
    }
    logger.info(
      { node, actionId: req.wireId, durationMs: now() - since },
      'node booted: its agent said hello and reported',
    );
  }

  return {
    unsupported: (type) => (type === 'bootNode' && !options.bootCommand ? unsupportedBoot : undefined),
    boot,
    shutdown,
  };
}

const unsupportedBoot =
  "this controller has no boot command: start it with --boot-command 'CMD {node}' (IPMI, Wake-on-LAN, ...)";
