import type { Hello, NodeStatus, VMStatus } from '@entropy/protocol';
import { type Configuration, holdsResources, type Node, type Resources, type VJob, type VM } from '@entropy/engine';
import type { VMRegistry } from './vm-registry.ts';

export const DEFAULT_STATUS_PERIOD_MS = 2000;
/** A node silent for this many status periods is offline. */
export const DEFAULT_MISSED_PERIODS = 3;

/** A node that said hello and never reported is forgotten after this many silence windows. */
export const PENDING_WINDOWS = 10;
/** A node offline (silent, not powered off by a plan) this long is forgotten: 15 minutes. */
export const DEFAULT_FORGET_AFTER_MS = 15 * 60 * 1000;

export interface MonitorOptions {
  /** The agents' status period. */
  readonly periodMs?: number;
  readonly missedPeriods?: number;
  /** How long a silent node stays in the views (offline) before it is forgotten (default 15 minutes). */
  readonly forgetAfterMs?: number;
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
  /** Powered off by a plan: offline at once, until its agent says hello again. */
  readonly poweredOff?: boolean;
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
  /** The latest status's VMs by id, built on the first lookup after it arrived. */
  byId?: Map<string, VMStatus>;
  /** When its last hello arrived, and from which agent process. */
  helloAt?: number;
  agent?: { readonly startedAt: number; readonly pid?: number };
  /** Set when a plan powered the node off: the agent process that was then running, if known. */
  poweredOff?: { readonly at: number; readonly agent?: { readonly startedAt: number; readonly pid?: number } };
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

  private readonly forgetAfterMs: number;

  constructor(options: MonitorOptions = {}) {
    this.silenceMs = (options.periodMs ?? DEFAULT_STATUS_PERIOD_MS) * (options.missedPeriods ?? DEFAULT_MISSED_PERIODS);
    this.forgetAfterMs = Math.max(options.forgetAfterMs ?? DEFAULT_FORGET_AFTER_MS, this.silenceMs);
  }

  /** Returns true when the hello comes from the agent process already known (it reconnected), false for a new one. */
  observeHello(hello: Hello, at: number): boolean {
    const known = this.nodes.get(hello.node);
    const off = known?.poweredOff;
    // The agent that was powered off may still be heard (a hello sent before it stopped): only another process is the node back.
    if (off?.agent !== undefined && off.agent.startedAt === hello.startedAt && off.agent.pid === hello.pid) return true;
    const again =
      known?.agent !== undefined && known.agent.startedAt === hello.startedAt && known.agent.pid === hello.pid;
    const n = this.record(hello.node, at);
    n.driver = hello.driver;
    n.capacity = hello.capacity;
    n.helloAt = at;
    n.agent = hello.pid !== undefined ? { startedAt: hello.startedAt, pid: hello.pid } : { startedAt: hello.startedAt };
    n.poweredOff = undefined;
    return again;
  }

  /**
   * A plan powered the node off (its agent replied to the shutdown): offline now, without waiting
   * for its silence, and its reports are ignored until an agent says hello again (a boot).
   */
  markPoweredOff(node: string, at: number): void {
    const n = this.record(node, at);
    n.poweredOff = n.agent !== undefined ? { at, agent: n.agent } : { at };
    n.status = undefined;
    n.statusAt = undefined;
    n.byId = undefined;
  }

  isPoweredOff(node: string): boolean {
    return this.nodes.get(node)?.poweredOff !== undefined;
  }

  /** True once an agent of the node said hello at or after `since` and published a status after that hello: a boot is complete. */
  bootedSince(node: string, since: number, at: number): boolean {
    const n = this.nodes.get(node);
    if (!n || n.helloAt === undefined || n.helloAt < since || n.statusAt === undefined || n.statusAt < n.helloAt)
      return false;
    return this.livenessOf(node, at) === NodeLiveness.Online;
  }

  observeStatus(status: NodeStatus, at: number): void {
    if (this.nodes.get(status.node)?.poweredOff !== undefined) return;
    const n = this.record(status.node, at);
    // A late publication of the same agent process must not replace a newer one.
    if (n.status && status.seq < n.status.seq && status.ts <= n.status.ts) return;
    n.driver = status.driver;
    n.capacity = status.capacity;
    n.status = status;
    n.statusAt = at;
    n.byId = undefined;
    // Most statuses come with no result pending: the monitor decodes thousands a second.
    if (this.results.size > 0)
      for (const vm of status.vms) {
        const r = this.results.get(vm.id);
        if (r !== undefined && r.at <= at) this.results.delete(vm.id);
      }
  }

  /**
   * Where the agents (or the controller's own newer results) put one VM now: its state and host,
   * or undefined when no online node reports it. Costs a lookup per online node, not a view: the
   * executor asks before each step of a plan.
   */
  placeOf(vm: string, at: number): { readonly state: VMStatus['state']; readonly host?: string } | undefined {
    let best: { state: VMStatus['state']; host: string; at: number } | undefined;
    for (const n of this.nodes.values()) {
      if (!n.status || this.livenessOf(n.id, at) !== NodeLiveness.Online) continue;
      n.byId ??= new Map(n.status.vms.map((v) => [v.id, v]));
      const v = n.byId.get(vm);
      if (v !== undefined && (best === undefined || n.statusAt! > best.at))
        best = { state: v.state, host: v.host ?? n.id, at: n.statusAt! };
    }
    const r = this.results.get(vm);
    if (r !== undefined && (best === undefined || r.at > best.at))
      return r.host !== undefined ? { state: r.state, host: r.host } : { state: r.state };
    return best && { state: best.state, host: best.host };
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
  actionsInFlight(
    at: number,
  ): { readonly node: string; readonly actionId: string; readonly type: string; readonly vm: string }[] {
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
    if (n.poweredOff !== undefined || at - n.lastSeen > this.silenceMs) return NodeLiveness.Offline;
    return n.status ? NodeLiveness.Online : NodeLiveness.Pending;
  }

  /**
   * Nodes whose liveness changed since the previous sweep, and those forgotten: a node that said
   * hello and never reported within ten silence windows (a hello alone is cheap to forge: the
   * nodes it adds must not stay), and a node silent for `forgetAfterMs`. A node a plan powered off
   * stays (its power record says where its VMs went); an agent that comes back is a new node.
   */
  sweep(at: number): { readonly wentOffline: string[]; readonly cameOnline: string[]; readonly forgotten: string[] } {
    // A result no status has confirmed within the silence window stays only as long as its node's reports do.
    for (const [vm, r] of this.results) if (at - r.at > this.silenceMs) this.results.delete(vm);
    const wentOffline: string[] = [];
    const cameOnline: string[] = [];
    const forgotten: string[] = [];
    for (const [id, n] of this.nodes) {
      if (n.poweredOff !== undefined) continue;
      const silent = at - n.lastSeen;
      const reportedOffline = this.lastLiveness.get(id) === NodeLiveness.Offline;
      if (
        (n.status === undefined && silent > this.silenceMs * PENDING_WINDOWS) ||
        (silent > this.forgetAfterMs && reportedOffline)
      ) {
        this.nodes.delete(id);
        this.lastLiveness.delete(id);
        forgotten.push(id);
      }
    }
    for (const id of this.nodes.keys()) {
      const now = this.livenessOf(id, at)!;
      const before = this.lastLiveness.get(id);
      if (now === NodeLiveness.Offline && before !== NodeLiveness.Offline && before !== undefined) wentOffline.push(id);
      if (now === NodeLiveness.Online && before !== NodeLiveness.Online) cameOnline.push(id);
      this.lastLiveness.set(id, now);
    }
    return { wentOffline, cameOnline, forgotten };
  }

  /**
   * The configuration to plan with. Linear in VMs and nodes (plus sorting by id): it runs twice per
   * control-loop turn and on every status request, on clusters of 100,000 VMs.
   */
  view(at: number, registry: VMRegistry = emptyRegistry()): MonitorView {
    const nodes: Node[] = [];
    const nodeViews: NodeView[] = [];
    const excluded: ExcludedVM[] = [];
    /** Running or paused VMs with a measured use, in view order. */
    const measured: VMStatus[] = [];
    /** The capacity of each online node, reduced below by the VMs it holds that are left out of planning. */
    const room = new Map<string, Record<string, number>>();
    /** The freshest report of each VM, from online nodes only. */
    const seen = new Map<string, { vm: VMStatus; node: string; at: number }>();
    const onOffline = new Map<string, { node: string; vjob?: string }>();
    for (const n of this.sortedNodes()) {
      const liveness = this.livenessOf(n.id, at)!;
      nodeViews.push(nodeViewOf(n, liveness));
      const capacity: Record<string, number> = { ...n.capacity };
      const online = liveness === NodeLiveness.Online;
      if (online) room.set(n.id, capacity);
      for (const vm of n.status?.vms ?? []) {
        if (!online) {
          onOffline.set(vm.id, vm.vjob !== undefined ? { node: n.id, vjob: vm.vjob } : { node: n.id });
          continue;
        }
        const prev = seen.get(vm.id);
        if (!prev || prev.at < n.statusAt!) seen.set(vm.id, { vm, node: n.id, at: n.statusAt! });
      }
      nodes.push({ id: n.id, capacity, state: online ? 'online' : 'offline' });
    }

    // The controller's results newer than the node reports, for VMs on online nodes (or on none any more).
    for (const [id, r] of this.results) {
      const prev = seen.get(id);
      if (prev !== undefined && prev.at >= r.at) continue;
      if (r.host !== undefined && this.livenessOf(r.host, at) !== NodeLiveness.Online) continue;
      // The measured use of the report is stale after an action: left out.
      const before = prev?.vm;
      const host = r.host ?? before?.host ?? '';
      const vm: VMStatus = { id, state: r.state, host };
      if (before?.vjob !== undefined) vm.vjob = before.vjob;
      if (before?.demand) vm.demand = before.demand;
      seen.set(id, { vm, node: host, at: r.at });
      onOffline.delete(id);
    }

    // A VM left out of planning still takes room on its node: the engine must not place others there.
    const takeRoom = (node: string, demand: Resources) => {
      const capacity = room.get(node);
      if (capacity === undefined) return;
      for (const d in demand) capacity[d] = Math.max(0, (capacity[d] ?? 0) - demand[d]!);
    };
    const vms: VM[] = [];
    for (const { vm, node } of seen.values()) {
      const known = registry.vms.get(vm.id);
      const vjob = known?.vjob ?? vm.vjob;
      const demand = known?.demand ?? vm.demand ?? { cpu: vm.cpu ?? 0, mem: vm.mem ?? 0 };
      if (vjob === undefined) {
        excluded.push({ vm: vm.id, node, reason: ExclusionReason.Unmanaged });
        if (vm.state === 'running' || vm.state === 'paused') takeRoom(node, demand);
        continue;
      }
      if (vm.state === 'crashed' || vm.state === 'unknown') {
        excluded.push({
          vm: vm.id,
          vjob,
          node,
          reason: vm.state === 'crashed' ? ExclusionReason.Crashed : ExclusionReason.Unknown,
        });
        continue;
      }
      if (vm.state === 'terminated') continue;
      if (holdsResources(vm.state) && vm.cpu !== undefined) measured.push(vm);
      vms.push(
        vm.state === 'waiting'
          ? { id: vm.id, vjob, demand, state: vm.state }
          : { id: vm.id, vjob, demand, state: vm.state, host: vm.host ?? node },
      );
    }
    for (const known of registry.vms.values()) {
      if (seen.has(known.id)) continue;
      const lost = onOffline.get(known.id);
      if (lost !== undefined)
        excluded.push({ vm: known.id, vjob: known.vjob, node: lost.node, reason: ExclusionReason.NodeOffline });
      else if (known.state === 'waiting')
        vms.push({ id: known.id, vjob: known.vjob, demand: known.demand, state: 'waiting' });
      else if (known.state !== 'terminated')
        excluded.push({ vm: known.id, vjob: known.vjob, reason: ExclusionReason.Missing });
    }
    for (const [vm, { node, vjob }] of onOffline)
      if (!seen.has(vm) && !registry.vms.has(vm))
        excluded.push(
          vjob !== undefined
            ? { vm, node, vjob, reason: ExclusionReason.NodeOffline }
            : { vm, node, reason: ExclusionReason.NodeOffline },
        );

    // A vjob with a VM left out is left out whole: the engine never plans part of a vjob.
    const incomplete = new Set<string>();
    for (const e of excluded) if (e.vjob !== undefined) incomplete.add(e.vjob);
    const kept: VM[] = [];
    for (const v of vms) {
      if (!incomplete.has(v.vjob)) {
        kept.push(v);
        continue;
      }
      excluded.push(
        v.host
          ? { vm: v.id, vjob: v.vjob, node: v.host, reason: ExclusionReason.VjobIncomplete }
          : { vm: v.id, vjob: v.vjob, reason: ExclusionReason.VjobIncomplete },
      );
      if (v.host !== undefined && holdsResources(v.state)) takeRoom(v.host, v.demand);
    }
    kept.sort((x, y) => x.id.localeCompare(y.id));
    const byVjob = new Map<string, string[]>();
    for (const v of kept) {
      const ids = byVjob.get(v.vjob);
      if (ids === undefined) byVjob.set(v.vjob, [v.id]);
      else ids.push(v.id);
    }
    const vjobs: VJob[] = [];
    for (const [id, ids] of byVjob) {
      const info = registry.vjobs.get(id);
      vjobs.push({ id, vms: ids, priority: info?.priority ?? 0, submittedAt: info?.submittedAt ?? 0 });
    }
    vjobs.sort((x, y) => x.submittedAt - y.submittedAt || x.id.localeCompare(y.id));
    excluded.sort((x, y) => x.vm.localeCompare(y.vm));
    let usage: Record<string, Resources> | undefined;
    return {
      at,
      configuration: { nodes, vms: kept, vjobs },
      nodes: nodeViews,
      excluded,
      // Built on first read: a record of 100,000 keys costs a third of the view, and status
      // requests, the queue's requests and its watch never read it.
      get usage() {
        return (usage ??= usageOf(measured));
      },
    };
  }

  /** The nodes alone, as `view(at).nodes` lists them: enough to tell whether every node has reported since a given time. */
  nodeViews(at: number): NodeView[] {
    return this.sortedNodes().map((n) => nodeViewOf(n, this.livenessOf(n.id, at)!));
  }

  private sortedNodes(): NodeRecord[] {
    return [...this.nodes.values()].sort((x, y) => x.id.localeCompare(y.id));
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

function usageOf(measured: readonly VMStatus[]): Record<string, Resources> {
  const usage: Record<string, Resources> = {};
  for (const vm of measured) usage[vm.id] = vm.mem !== undefined ? { cpu: vm.cpu!, mem: vm.mem } : { cpu: vm.cpu! };
  return usage;
}

function nodeViewOf(n: NodeRecord, liveness: NodeLiveness): NodeView {
  const view = {
    id: n.id,
    liveness,
    driver: n.driver,
    capacity: n.capacity,
    lastSeen: n.lastSeen,
    vms: n.status?.vms.length ?? 0,
    inFlight: n.status?.inFlight ?? 0,
  };
  return n.poweredOff !== undefined ? { ...view, poweredOff: true } : view;
}

function emptyRegistry(): VMRegistry {
  return { vms: new Map(), vjobs: new Map() };
}
