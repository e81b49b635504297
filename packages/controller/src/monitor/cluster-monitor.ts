import type { Hello, NodeStatus, VMStatus } from '@entropy/protocol';
import type { Configuration, Node, VJob, VM } from '../model/configuration.ts';
import type { Resources } from '../model/resources.ts';
import type { VMRegistry } from './vm-registry.ts';

export const DEFAULT_STATUS_PERIOD_MS = 2000;
/** A node silent for this many status periods is offline. */
export const DEFAULT_MISSED_PERIODS = 3;

export interface MonitorOptions {
  /** The agents' status period. */
  readonly periodMs?: number;
  readonly missedPeriods?: number;
}

export const NodeLiveness = {
  Online: 'online',
  /** Silent for `missedPeriods` periods: its VMs are unknown. */
  Offline: 'offline',
  /** Said hello, has not published a status yet: not used for planning. */
  Pending: 'pending',
} as const;
export type NodeLiveness = (typeof NodeLiveness)[keyof typeof NodeLiveness];

export interface NodeView {
  readonly id: string;
  readonly liveness: NodeLiveness;
  readonly driver: string;
  readonly capacity: Resources;
  readonly lastSeen: number;
  readonly vms: number;
  readonly inFlight: number;
}

export const ExclusionReason = {
  /** On a node that went offline. */
  NodeOffline: 'node-offline',
  /** The agent reports it crashed or cannot tell its state. */
  Crashed: 'crashed',
  Unknown: 'unknown',
  /** No vjob claims it: neither the registry nor the agent knows its vjob. */
  Unmanaged: 'unmanaged',
  /** Registered, yet reported by no online node. */
  Missing: 'missing',
  /** Another VM of its vjob is excluded: a vjob is planned whole or not at all. */
  VjobIncomplete: 'vjob-incomplete',
} as const;
export type ExclusionReason = (typeof ExclusionReason)[keyof typeof ExclusionReason];

export interface ExcludedVM {
  readonly vm: string;
  readonly vjob?: string;
  readonly node?: string;
  readonly reason: ExclusionReason;
}

/** What the monitor knows at one instant: the configuration to plan with, and what it left out. */
export interface MonitorView {
  readonly at: number;
  readonly configuration: Configuration;
  readonly nodes: readonly NodeView[];
  readonly excluded: readonly ExcludedVM[];
  /** Measured use per running VM (the agents' cpu/mem), for policies that size by measurement. */
  readonly usage: Readonly<Record<string, Resources>>;
}

/** Where an action the controller ran left a VM, by the agent's result. */
export interface ActionOutcomeObservation {
  readonly state: VMStatus['state'];
  /** Absent for a VM that no node holds any more (terminated). */
  readonly host?: string;
}

interface NodeRecord {
  readonly id: string;
  driver: string;
  capacity: Resources;
  lastSeen: number;
  status?: NodeStatus;
  statusAt?: number;
}

/**
 * Builds the current configuration from the agents' hellos and status messages. Pure state: the
 * caller passes the time of each observation and of each view; the NATS adapter feeds it.
 */
export class ClusterMonitor {
  private readonly nodes = new Map<string, NodeRecord>();
  private readonly silenceMs: number;
  private readonly lastLiveness = new Map<string, NodeLiveness>();
  /**
   * The controller's own action results, until a newer status of the VM's node says more: an
   * agent publishes its status shortly after its results, and a view taken meanwhile must not show
   * a plan's VMs where they were before it.
   */
  private readonly results = new Map<string, ActionOutcomeObservation & { readonly at: number }>();

  constructor(options: MonitorOptions = {}) {
    this.silenceMs = (options.periodMs ?? DEFAULT_STATUS_PERIOD_MS) * (options.missedPeriods ?? DEFAULT_MISSED_PERIODS);
  }

  observeHello(hello: Hello, at: number): void {
    const n = this.record(hello.node, at);
    n.driver = hello.driver;
    n.capacity = hello.capacity;
  }

  observeStatus(status: NodeStatus, at: number): void {
    const n = this.record(status.node, at);
    // A late publication of the same agent process must not replace a newer one.
    if (n.status && status.seq < n.status.seq && status.ts <= n.status.ts) return;
    n.driver = status.driver;
    n.capacity = status.capacity;
    n.status = status;
    n.statusAt = at;
    // Most statuses come with no result pending: the monitor decodes thousands a second.
    if (this.results.size > 0)
      for (const vm of status.vms) {
        const r = this.results.get(vm.id);
        if (r !== undefined && r.at <= at) this.results.delete(vm.id);
      }
  }

  /** An action's result as the executor got it, at the controller's time `at`. */
  observeResult(vm: string, outcome: ActionOutcomeObservation, at: number): void {
    this.results.set(vm, { ...outcome, at });
  }

  /**
   * Per online node, the VMs its latest status lists without their vjob or demand while the
   * registry knows them (a VM that arrived by a live migration, an agent that lost its metadata):
   * what the controller tells that agent, so that its reports are complete after any restart.
   */
  unannotated(registry: VMRegistry, at: number): Map<string, { vm: string; vjob: string; demand: Resources }[]> {
    const out = new Map<string, { vm: string; vjob: string; demand: Resources }[]>();
    for (const n of this.nodes.values()) {
      if (!n.status || this.livenessOf(n.id, at) !== NodeLiveness.Online) continue;
      for (const vm of n.status.vms) {
        if (vm.vjob !== undefined && vm.demand !== undefined) continue;
        const known = registry.vms.get(vm.id);
        if (!known) continue;
        const list = out.get(n.id);
        const entry = { vm: vm.id, vjob: known.vjob, demand: known.demand };
        if (list) list.push(entry);
        else out.set(n.id, [entry]);
      }
    }
    return out;
  }

  /** The actions the online nodes' latest statuses say are running, with the node running each. */
  actionsInFlight(at: number): { readonly node: string; readonly actionId: string; readonly type: string; readonly vm: string }[] {
    const out: { node: string; actionId: string; type: string; vm: string }[] = [];
    for (const n of this.nodes.values()) {
      if (!n.status?.actions?.length || this.livenessOf(n.id, at) !== NodeLiveness.Online) continue;
      for (const a of n.status.actions) out.push({ node: n.id, actionId: a.actionId, type: a.type, vm: a.vm });
    }
    return out;
  }

  livenessOf(node: string, at: number): NodeLiveness | undefined {
    const n = this.nodes.get(node);
    if (!n) return undefined;
    if (at - n.lastSeen > this.silenceMs) return NodeLiveness.Offline;
    return n.status ? NodeLiveness.Online : NodeLiveness.Pending;
  }

  /** Nodes whose liveness changed since the previous sweep. */
  sweep(at: number): { readonly wentOffline: string[]; readonly cameOnline: string[] } {
    // A result no status has confirmed within the silence window stays only as long as its node's reports do.
    for (const [vm, r] of this.results) if (at - r.at > this.silenceMs) this.results.delete(vm);
    const wentOffline: string[] = [];
    const cameOnline: string[] = [];
    for (const id of this.nodes.keys()) {
      const now = this.livenessOf(id, at)!;
      const before = this.lastLiveness.get(id);
      if (now === NodeLiveness.Offline && before !== NodeLiveness.Offline && before !== undefined) wentOffline.push(id);
      if (now === NodeLiveness.Online && before !== NodeLiveness.Online) cameOnline.push(id);
      this.lastLiveness.set(id, now);
    }
    return { wentOffline, cameOnline };
  }

  view(at: number, registry: VMRegistry = emptyRegistry()): MonitorView {
    const nodes: Node[] = [];
    const nodeViews: NodeView[] = [];
    const excluded: ExcludedVM[] = [];
    const usage: Record<string, Resources> = {};
    /** The freshest report of each VM, from online nodes only. */
    const seen = new Map<string, { vm: VMStatus; node: string; at: number }>();
    const onOffline = new Map<string, { node: string; vjob?: string }>();
    for (const n of [...this.nodes.values()].sort((x, y) => x.id.localeCompare(y.id))) {
      const liveness = this.livenessOf(n.id, at)!;
      nodeViews.push({ id: n.id, liveness, driver: n.driver, capacity: n.capacity, lastSeen: n.lastSeen, vms: n.status?.vms.length ?? 0, inFlight: n.status?.inFlight ?? 0 });
      const capacity: Record<string, number> = { ...n.capacity };
      for (const vm of n.status?.vms ?? []) {
        if (liveness !== NodeLiveness.Online) {
          onOffline.set(vm.id, { node: n.id, ...(vm.vjob !== undefined ? { vjob: vm.vjob } : {}) });
          continue;
        }
        const managed = registry.vms.has(vm.id) || vm.vjob !== undefined;
        if (!managed && (vm.state === 'running' || vm.state === 'paused')) {
          // A VM Entropy does not manage still takes room on the node.
          capacity.cpu = Math.max(0, (capacity.cpu ?? 0) - (vm.cpu ?? 0));
          capacity.mem = Math.max(0, (capacity.mem ?? 0) - (vm.mem ?? 0));
        }
        const prev = seen.get(vm.id);
        if (!prev || prev.at < n.statusAt!) seen.set(vm.id, { vm, node: n.id, at: n.statusAt! });
      }
      nodes.push({ id: n.id, capacity, state: liveness === NodeLiveness.Online ? 'online' : 'offline' });
    }

    // The controller's results newer than the node reports, for VMs on online nodes (or on none any more).
    for (const [id, r] of this.results) {
      const prev = seen.get(id);
      if (prev !== undefined && prev.at >= r.at) continue;
      if (r.host !== undefined && this.livenessOf(r.host, at) !== NodeLiveness.Online) continue;
      // The measured use of the report is stale after an action: left out.
      const before = prev?.vm;
      const host = r.host ?? before?.host ?? '';
      const vm: VMStatus = { id, state: r.state, host, ...(before?.vjob !== undefined ? { vjob: before.vjob } : {}), ...(before?.demand ? { demand: before.demand } : {}) };
      seen.set(id, { vm, node: host, at: r.at });
      onOffline.delete(id);
    }

    const vms: VM[] = [];
    const vjobOf = (id: string, reported?: string) => registry.vms.get(id)?.vjob ?? reported;
    for (const { vm, node } of seen.values()) {
      const vjob = vjobOf(vm.id, vm.vjob);
      if (vjob === undefined) {
        excluded.push({ vm: vm.id, node, reason: ExclusionReason.Unmanaged });
        continue;
      }
      if (vm.state === 'crashed' || vm.state === 'unknown') {
        excluded.push({ vm: vm.id, vjob, node, reason: vm.state === 'crashed' ? ExclusionReason.Crashed : ExclusionReason.Unknown });
        continue;
      }
      if (vm.state === 'terminated') continue;
      const demand = registry.vms.get(vm.id)?.demand ?? vm.demand ?? { cpu: vm.cpu ?? 0, mem: vm.mem ?? 0 };
      if ((vm.state === 'running' || vm.state === 'paused') && vm.cpu !== undefined) usage[vm.id] = { cpu: vm.cpu, ...(vm.mem !== undefined ? { mem: vm.mem } : {}) };
      vms.push({ id: vm.id, vjob, demand, state: vm.state, ...(vm.state === 'waiting' ? {} : { host: vm.host ?? node }) });
    }
    for (const known of registry.vms.values()) {
      if (seen.has(known.id)) continue;
      const lost = onOffline.get(known.id);
      if (lost !== undefined) excluded.push({ vm: known.id, vjob: known.vjob, node: lost.node, reason: ExclusionReason.NodeOffline });
      else if (known.state === 'waiting') vms.push({ id: known.id, vjob: known.vjob, demand: known.demand, state: 'waiting' });
      else if (known.state !== 'terminated') excluded.push({ vm: known.id, vjob: known.vjob, reason: ExclusionReason.Missing });
    }
    for (const [vm, { node, vjob }] of onOffline)
      if (!seen.has(vm) && !registry.vms.has(vm)) excluded.push({ vm, node, ...(vjob !== undefined ? { vjob } : {}), reason: ExclusionReason.NodeOffline });

    // A vjob with a VM left out is left out whole: the engine never plans part of a vjob.
    const incomplete = new Set(excluded.map((e) => e.vjob).filter((j): j is string => j !== undefined));
    const kept = vms.filter((v) => {
      if (!incomplete.has(v.vjob)) return true;
      excluded.push({ vm: v.id, vjob: v.vjob, ...(v.host ? { node: v.host } : {}), reason: ExclusionReason.VjobIncomplete });
      return false;
    });
    kept.sort((x, y) => x.id.localeCompare(y.id));
    const byVjob = new Map<string, string[]>();
    for (const v of kept) byVjob.set(v.vjob, [...(byVjob.get(v.vjob) ?? []), v.id]);
    const vjobs: VJob[] = [...byVjob].map(([id, ids]) => {
      const info = registry.vjobs.get(id);
      return { id, vms: ids, priority: info?.priority ?? 0, submittedAt: info?.submittedAt ?? 0 };
    });
    vjobs.sort((x, y) => x.submittedAt - y.submittedAt || x.id.localeCompare(y.id));
    excluded.sort((x, y) => x.vm.localeCompare(y.vm));
    return { at, configuration: { nodes, vms: kept, vjobs }, nodes: nodeViews, excluded, usage };
  }

  private record(node: string, at: number): NodeRecord {
    let n = this.nodes.get(node);
    if (!n) {
      n = { id: node, driver: '', capacity: {}, lastSeen: at };
      this.nodes.set(node, n);
    }
    n.lastSeen = Math.max(n.lastSeen, at);
    return n;
  }
}

function emptyRegistry(): VMRegistry {
  return { vms: new Map(), vjobs: new Map() };
}
