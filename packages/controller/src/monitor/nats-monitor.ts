import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import { decode, encode, type Logger, type Subjects } from '@entropy/protocol';
import {
  type ActionOutcomeObservation,
  ClusterMonitor,
  type MonitorOptions,
  type MonitorView,
  type NodeView,
} from './cluster-monitor.ts';
import type { VMRegistry } from './vm-registry.ts';

export interface NatsMonitorOptions extends MonitorOptions {
  readonly subjects: Subjects;
  /** Names the controller in hello acknowledgements. */
  readonly name: string;
  readonly logger: Logger;
  readonly registry?: VMRegistry;
  readonly now?: () => number;
  /**
   * Called on every hello accepted; `again` when it comes from the agent process already known: it
   * reconnected, maybe to another server of a cluster, and may not answer the requests it got before.
   */
  readonly onHello?: (node: string, again: boolean) => void;
  /** Called when a node goes offline (after `missedPeriods` silent periods) or comes back. */
  readonly onLiveness?: (change: { readonly wentOffline: string[]; readonly cameOnline: string[] }) => void;
}

export interface NatsMonitor {
  readonly monitor: ClusterMonitor;
  view(): MonitorView;
  /** The nodes of `view()` alone: cheap, where a view of every VM is not needed. */
  nodes(): NodeView[];
  isOffline(node: string): boolean;
  /** Per node, the VMs it reports without the vjob and demand the registry knows. */
  unannotated(): ReturnType<ClusterMonitor['unannotated']>;
  /** Where the agents put one VM now (ClusterMonitor.placeOf). */
  placeOf(vm: string): ReturnType<ClusterMonitor['placeOf']>;
  /** The actions the online agents report running now. */
  actionsInFlight(): ReturnType<ClusterMonitor['actionsInFlight']>;
  /** Where an action the controller ran left its VM, until the node's next status. */
  observeResult(vm: string, outcome: ActionOutcomeObservation): void;
  /** A plan powered the node off: offline at once (ClusterMonitor.markPoweredOff); the change is reported through `onLiveness` right away. */
  markPoweredOff(node: string): void;
  /** True once the node's agent said hello at or after `since` (controller time) and reported since. */
  bootedSince(node: string, since: number): boolean;
  isPoweredOff(node: string): boolean;
  close(): Promise<void>;
}

/**
 * Feeds a ClusterMonitor from NATS: acknowledges agents' hellos, keeps their statuses, and checks
 * liveness every period. Malformed messages are logged and dropped. Subscribe before agents start,
 * or rely on their re-sent hellos.
 */
export function startNatsMonitor(nc: NatsConnection, options: NatsMonitorOptions): NatsMonitor {
  const { subjects: s, logger } = options;
  const now = options.now ?? Date.now;
  const monitor = new ClusterMonitor(options);
  const subs: Subscription[] = [];

  const serve = (
    subject: string,
    handle: (data: Uint8Array, respond: (bytes: Uint8Array) => void, subject: string) => void,
  ) => {
    const sub = nc.subscribe(subject);
    subs.push(sub);
    void (async () => {
      for await (const m of sub) {
        try {
          handle(m.data, (bytes) => m.reply && m.respond(bytes), m.subject);
        } catch (err) {
          logger.error({ err: (err as Error).message, subject: m.subject }, 'monitor handler failed');
        }
      }
    })();
  };

  const impostors = impostorLog(logger);
  /** The node a message speaks for must be its subject's: an agent may publish on its own subjects only, whatever it claims. */
  const fromItsNode = (kind: 'hello' | 'status', subject: string, node: string): boolean => {
    const parsed = s.parse(subject);
    const own = parsed?.kind === kind ? parsed.node : undefined;
    if (own === node) return true;
    impostors(kind, subject, own, node, now());
    return false;
  };

  serve(s.allNodeHello(), (data, respond, subject) => {
    const r = decode('hello', data);
    if (!r.ok) return logger.warn({ subject, ...r.error }, 'malformed hello dropped');
    if (!fromItsNode('hello', subject, r.msg.node)) return;
    const again = monitor.observeHello(r.msg, now());
    respond(encode('helloAck', { node: r.msg.node, by: options.name, ts: now() }));
    logger.info(
      { node: r.msg.node, driver: r.msg.driver, capacity: r.msg.capacity, ...(again ? { again } : {}) },
      'agent announced',
    );
    options.onHello?.(r.msg.node, again);
  });
  serve(s.allNodeStatus(), (data, _respond, subject) => {
    const r = decode('status', data);
    if (!r.ok) return logger.warn({ subject, ...r.error }, 'malformed status dropped');
    if (!fromItsNode('status', subject, r.msg.node)) return;
    monitor.observeStatus(r.msg, now());
  });

  const periodMs = options.periodMs ?? 2000;
  const sweep = () => {
    const change = monitor.sweep(now());
    for (const node of change.wentOffline) {
      if (monitor.isPoweredOff(node)) logger.info({ node }, 'node offline: powered off by a plan');
      else logger.warn({ node }, 'node offline: no status for three periods');
    }
    for (const node of change.cameOnline) logger.info({ node }, 'node online');
    if (change.forgotten.length > 0)
      logger.info(
        { nodes: change.forgotten.slice(0, 20), count: change.forgotten.length },
        'nodes forgotten: silent too long, or a hello never followed by a status',
      );
    if (change.wentOffline.length + change.cameOnline.length > 0) options.onLiveness?.(change);
  };
  const timer = setInterval(sweep, Math.max(50, Math.round(periodMs / 4)));

  return {
    monitor,
    view: () => monitor.view(now(), options.registry),
    nodes: () => monitor.nodeViews(now()),
    isOffline: (node) => monitor.livenessOf(node, now()) === 'offline',
    actionsInFlight: () => monitor.actionsInFlight(now()),
    placeOf: (vm) => monitor.placeOf(vm, now()),
    unannotated: () => monitor.unannotated(options.registry ?? { vms: new Map(), vjobs: new Map() }, now()),
    observeResult: (vm, outcome) => monitor.observeResult(vm, outcome, now()),
    markPoweredOff(node) {
      monitor.markPoweredOff(node, now());
      sweep();
    },
    bootedSince: (node, since) => monitor.bootedSince(node, since, now()),
    isPoweredOff: (node) => monitor.isPoweredOff(node),
    async close() {
      clearInterval(timer);
      for (const sub of subs) sub.unsubscribe();
    },
  };
}

/** How often one subject's impostor messages are logged: a flood of them must not flood the log. */
const IMPOSTOR_LOG_EVERY_MS = 10_000;

/**
 * Logs messages whose node differs from their subject's: the first of each subject at once, then
 * one line per subject every 10 s with the count dropped meanwhile.
 */
function impostorLog(
  logger: Logger,
): (kind: string, subject: string, subjectNode: string | undefined, claimed: string, at: number) => void {
  const last = new Map<string, { at: number; dropped: number }>();
  return (kind, subject, subjectNode, claimed, at) => {
    const seen = last.get(subject);
    if (seen && at - seen.at < IMPOSTOR_LOG_EVERY_MS) {
      seen.dropped++;
      return;
    }
    if (last.size > 10_000) last.clear();
    last.set(subject, { at, dropped: 0 });
    logger.warn(
      { subject, subjectNode, claimed, ...(seen?.dropped ? { droppedSince: seen.dropped } : {}) },
      `${kind} refused: its node is not its subject's`,
    );
  };
}
