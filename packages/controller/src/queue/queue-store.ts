import type { Constraint, NodeState, VJobState } from '@entropy/engine';
import type { VMSpec } from './vjob-file.ts';

/** Why a vjob ended: its VMs all stopped by themselves (as the agents report), or `entropy cancel`. */
export const VJobEnd = { Finished: 'finished', Cancelled: 'cancelled' } as const;
export type VJobEnd = (typeof VJobEnd)[keyof typeof VJobEnd];

/** One vjob of the queue, as stored: what was submitted, and what the control loop last observed of it. */
/** A VM of a stored vjob: its spec, and whether an agent ever reported it started. */
export interface StoredVM extends VMSpec {
  /**
   * False until an agent first reports the VM running, paused or sleeping. A VM never started that no
   * node reports (its run cut short by an agent restart) is waiting, and is run again; one that
   * started and is no longer reported is gone. Absent in records of older versions: started unless
   * the vjob is waiting.
   */
  readonly started?: boolean;
}

/** Who says what a vjob should be: the policy (a submitted vjob) or an operator (`entropy apply`). */
export const VJobOwner = { Policy: 'policy', Operator: 'operator' } as const;
export type VJobOwner = (typeof VJobOwner)[keyof typeof VJobOwner];

export interface StoredVJob {
  readonly id: string;
  /** Absent for the policy's vjobs (submitted to the queue). */
  readonly owner?: VJobOwner;
  /** An operator vjob's wanted state, set by `entropy apply`; the loop drives the vjob there, also after a restart. */
  readonly wanted?: VJobState;
  readonly priority: number;
  /** Milliseconds since the epoch, set by the controller on submission. */
  readonly submittedAt: number;
  /** `waiting` until the loop observes it otherwise; `terminated` once it ended (see `end`). */
  readonly state: VJobState;
  readonly vms: readonly StoredVM[];
  /** The vjob file's placement constraints over its VMs, resolved; every turn plans and verifies under them. */
  readonly constraints?: readonly Constraint[];
  /** Set by `entropy cancel`; the loop stops the vjob's VMs, then marks it terminated. */
  readonly cancelRequestedAt?: number;
  readonly end?: VJobEnd;
  readonly endedAt?: number;
}

/**
 * The record of the controller's latest plan: written when it starts and again when it ends, so
 * that a plan cut short by a controller stop (even `kill -9`) is known to the next controller.
 */
export interface PlanRecord {
  readonly planId: string;
  /** `running` until the executor's outcome; `interrupted` when a controller found it running at start. */
  readonly status: 'running' | 'completed' | 'failed' | 'aborted' | 'stale' | 'interrupted';
  readonly controller: string;
  readonly mode: string;
  readonly actions: number;
  readonly steps: number;
  readonly estimatedMs: number;
  readonly startedAt: number;
  readonly endedAt?: number;
  /** From the outcome: actions done and failed, the first failure, the VMs left paused or of unknown state. */
  readonly done?: number;
  readonly failed?: number;
  readonly failure?: string;
  readonly leftPaused?: readonly string[];
  readonly uncertainVms?: readonly string[];
}

/**
 * What the store keeps of one node's power: the state an operator wants it in (`entropy node
 * boot|shutdown`), and whether a plan powered it off. Both survive a controller restart: a
 * powered-off node is not waited for, and its boot can be planned before any agent reports it.
 */
export interface NodePowerRecord {
  readonly wanted?: NodeState;
  /** Set when a plan's shutdown completed: when, and the node's capacity then. */
  readonly poweredOff?: { readonly at: number; readonly capacity: Readonly<Record<string, number>> };
  /** Set by `entropy node drain`, until `entropy node undrain`: no VM runs on the node. */
  readonly drained?: boolean;
}

/**
 * Where the controller keeps the vjob queue, and the record of its latest plan. The JetStream KV implementation (kv-queue-store.ts)
 * survives a controller restart; the in-memory one serves unit tests and clusters without JetStream.
 */
export interface QueueStore {
  readonly kind: 'kv' | 'memory';
  /** Adds a vjob; false when a vjob with this id exists already (terminated ones included). */
  add(vjob: StoredVJob): Promise<boolean>;
  get(id: string): Promise<StoredVJob | undefined>;
  /** Every stored vjob, in submission order (ties by id). */
  list(): Promise<StoredVJob[]>;
  /**
   * Compare-and-set: applies `change` to the current value and writes the result unless another
   * writer got there first, in which case it reads again and retries. `change` returns undefined to
   * leave the vjob unchanged. Resolves to the value now stored, or undefined when there is no such vjob.
   */
  update(id: string, change: (current: StoredVJob) => StoredVJob | undefined): Promise<StoredVJob | undefined>;
  /** Forgets a vjob and its history; its id may be submitted again. Unknown ids are ignored. */
  remove(id: string): Promise<void>;
  /** Replaces the record of the latest plan. */
  recordPlan(record: PlanRecord): Promise<void>;
  lastPlan(): Promise<PlanRecord | undefined>;
  /** Every node the cluster is known to have had: a restarted controller waits for each to report (or to be offline) before planning. */
  knownNodes(): Promise<string[]>;
  /** Adds nodes to the known ones (those known already are ignored). */
  addKnownNodes(nodes: readonly string[]): Promise<void>;
  /** Every node's power record (nodes without one are absent). */
  nodePower(): Promise<Record<string, NodePowerRecord>>;
  /**
   * Compare-and-set on the power records: `change` gets the node's record (or undefined) and
   * returns the new one, or undefined to drop it. Resolves to what is stored for the node now.
   */
  updateNodePower(
    node: string,
    change: (current: NodePowerRecord | undefined) => NodePowerRecord | undefined,
  ): Promise<NodePowerRecord | undefined>;
  close(): Promise<void>;
}

export function bySubmission(a: StoredVJob, b: StoredVJob): number {
  return a.submittedAt - b.submittedAt || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}

/** The queue in this process's memory: lost when the controller stops. */
export class MemoryQueueStore implements QueueStore {
  readonly kind = 'memory' as const;
  private readonly vjobs = new Map<string, StoredVJob>();
  private plan: PlanRecord | undefined;
  private readonly nodes = new Set<string>();
  private readonly power = new Map<string, NodePowerRecord>();

  async add(vjob: StoredVJob): Promise<boolean> {
    if (this.vjobs.has(vjob.id)) return false;
    this.vjobs.set(vjob.id, structuredClone(vjob));
    return true;
  }

  async get(id: string): Promise<StoredVJob | undefined> {
    const v = this.vjobs.get(id);
    return v && structuredClone(v);
  }

  async list(): Promise<StoredVJob[]> {
    return [...this.vjobs.values()].map((v) => structuredClone(v)).sort(bySubmission);
  }

  async update(id: string, change: (current: StoredVJob) => StoredVJob | undefined): Promise<StoredVJob | undefined> {
    const current = this.vjobs.get(id);
    if (!current) return undefined;
    const next = change(structuredClone(current));
    if (next === undefined) return structuredClone(current);
    if (next.id !== id) throw new RangeError(`update of vjob ${id} cannot change its id to ${next.id}`);
    this.vjobs.set(id, structuredClone(next));
    return structuredClone(next);
  }

  async remove(id: string): Promise<void> {
    this.vjobs.delete(id);
  }

  async recordPlan(record: PlanRecord): Promise<void> {
    this.plan = structuredClone(record);
  }

  async lastPlan(): Promise<PlanRecord | undefined> {
    return this.plan && structuredClone(this.plan);
  }

  async knownNodes(): Promise<string[]> {
    return [...this.nodes].sort();
  }

  async addKnownNodes(nodes: readonly string[]): Promise<void> {
    for (const n of nodes) this.nodes.add(n);
  }

  async nodePower(): Promise<Record<string, NodePowerRecord>> {
    return structuredClone(Object.fromEntries(this.power));
  }

  async updateNodePower(
    node: string,
    change: (current: NodePowerRecord | undefined) => NodePowerRecord | undefined,
  ): Promise<NodePowerRecord | undefined> {
    const current = this.power.get(node);
    const next = change(current && structuredClone(current));
    if (next === undefined || isEmptyPower(next)) this.power.delete(node);
    else this.power.set(node, structuredClone(next));
    return next && !isEmptyPower(next) ? structuredClone(next) : undefined;
  }

  async close(): Promise<void> {}
}

/** A record that says nothing is not kept. */
export const isEmptyPower = (r: NodePowerRecord) =>
  r.wanted === undefined && r.poweredOff === undefined && r.drained !== true;
