import type { Constraint } from '../constraints/constraint.ts';
import type { Configuration, Decision } from '../model/configuration.ts';
import { vjobStateOf, type VJobState } from '../model/lifecycle.ts';
import type { Resources } from '../model/resources.ts';
import { vmsOfVjobs } from '../model/vjob-vms.ts';

/**
 * The Policy API. A policy is the only code a scheduler's author writes: it looks at the
 * cluster and the queue of vjobs and says which state each vjob should be in. It never
 * chooses hosts or actions; the context switch computes those, and the executor runs them.
 *
 * ```ts
 * import type { Policy } from '@entropy/controller';
 * const policy: Policy = {
 *   name: 'run-all',
 *   decide: (view) => Object.fromEntries(view.queue.map((j) => [j.id, 'running'])),
 * };
 * export default policy;
 * ```
 */
export interface Policy {
  readonly name: string;
  /**
   * Returns the wanted state of each vjob. Vjobs it does not name keep their current state (a vjob
   * caught in mixed states, half paused say, goes to running: model/lifecycle.ts defaultTarget).
   * Must be synchronous and free of side effects the control loop depends on: the loop may call
   * it at any moment, several times, and keeps the last good decision when it throws.
   */
  decide(view: PolicyView): Decision;
  /**
   * How the control loop sizes running VMs for the context switch: `peak` reserves each VM's
   * declared demand (static allocation), `measured` uses its measured CPU use, so that the
   * engine's placement packs idle VMs together. Default: `measured`.
   */
  readonly sizing?: Sizing;
  /**
   * The priority the policy orders a vjob by at time `now`, when it differs from the submitted one
   * (fifo-ffd: grown with waiting time). Only shown to users (`entropy queue`); optional.
   */
  effectivePriority?(vjob: QueuedVJob, now: number): number;
  /**
   * Why each vjob of the view gets (or does not get) the state `decide` gives it: its place in the
   * policy's order, what it lacks, the vjobs ahead of it. Optional, only shown to users (`entropy
   * explain`, `entropy queue`'s reason column); called only when someone asks, with the view of the
   * last turn. A vjob it does not name has no policy reason.
   */
  explain?(view: PolicyView): Readonly<Record<string, PolicyReason>>;
  /** Goals the engine may read in a later version; the current engine ignores them (see consolidate.ts). */
  readonly hints?: PolicyHints;
}

/** Why a policy gave a vjob its state (Policy.explain). */
export interface PolicyReason {
  /** The state the policy's decision gives it (absent: not named, it keeps its state). */
  readonly decided?: VJobState;
  /** Its place in the policy's order, from 1. */
  readonly position?: number;
  readonly effectivePriority?: number;
  /** The first vjobs before it in the policy's order (at most MAX_NAMED_AHEAD), and how many there are. */
  readonly ahead?: readonly string[];
  readonly aheadCount?: number;
  /** For a vjob that does not fit: the resource it is most short of. */
  readonly short?: Shortage;
  /** One sentence, e.g. `waits: needs cpu 4.5, 2 free in all; 3 vjobs ahead (a, b, c)`. */
  readonly reason: string;
}

/**
 * What a vjob lacks: `cluster`, its VMs need more of `resource` than is free on all the nodes
 * together; `node`, one of its VMs needs more than the node with the most free has; `packing`,
 * each amount is free somewhere, but not so that its VMs fit together.
 */
export interface Shortage {
  readonly resource: string;
  readonly needed: number;
  readonly free: number;
  readonly scope: 'cluster' | 'node' | 'packing';
}

/** Vjobs ahead named in a reason, at most: the count says how many there are. */
export const MAX_NAMED_AHEAD = 10;

export const Sizing = { Peak: 'peak', Measured: 'measured' } as const;
export type Sizing = (typeof Sizing)[keyof typeof Sizing];

export interface PolicyHints {
  /** Pack running VMs on as few nodes as possible, even when they fit where they are. */
  readonly consolidate?: boolean;
}

/** A module's default export may be a policy, or a factory that builds one from options. */
export type PolicyFactory = (options?: Readonly<Record<string, unknown>>) => Policy;

/** What a policy sees at one turn of the control loop. */
export interface PolicyView {
  /** The current configuration; a VM's `demand` is its declared peak demand. */
  readonly configuration: Configuration;
  /**
   * Measured use per VM id (at least `cpu`), for VMs that were observed running or were
   * suspended after a measurement. Absent for VMs never measured, such as waiting ones.
   */
  readonly usage: Readonly<Record<string, Resources>>;
  /** Every vjob that is not terminated, in submission order (ties by id). */
  readonly queue: readonly QueuedVJob[];
  /** Current time in milliseconds, on the same clock as `submittedAt`. */
  readonly now: number;
  /**
   * The placement constraints every plan of the turn keeps (the cluster's constraints file, the
   * vjobs' own, drained nodes), resolved to VM and node ids; read-only, the engine enforces them.
   * Absent when there are none.
   */
  readonly constraints?: readonly Constraint[];
}

export interface QueuedVJob {
  readonly id: string;
  readonly priority: number;
  readonly submittedAt: number;
  readonly state: VJobState;
  readonly vms: readonly QueuedVM[];
}

export interface QueuedVM {
  readonly id: string;
  /** Declared peak demand. */
  readonly demand: Resources;
  /** Last measured use, when there is one. */
  readonly usage?: Resources;
  /** Node the VM runs on or holding its image. */
  readonly host?: string;
}

/** Builds the view a policy sees from a configuration, measured use and the clock. */
export function buildPolicyView(
  configuration: Configuration,
  usage: Readonly<Record<string, Resources>>,
  now: number,
  constraints: readonly Constraint[] = [],
): PolicyView {
  const vmsOf = vmsOfVjobs(configuration);
  const queue: QueuedVJob[] = [];
  for (const [k, j] of configuration.vjobs.entries()) {
    const vms = vmsOf[k]!.filter((v) => v !== undefined);
    const state = vjobStateOf(vms.map((v) => v.state));
    if (state === 'terminated') continue;
    queue.push({
      id: j.id,
      priority: j.priority,
      submittedAt: j.submittedAt,
      state,
      // Built field by field: one object per VM of the cluster, every turn.
      vms: vms.map((v) => {
        const q: { -readonly [K in keyof QueuedVM]: QueuedVM[K] } = { id: v.id, demand: v.demand };
        const used = usage[v.id];
        if (used) q.usage = used;
        if (v.host !== undefined) q.host = v.host;
        return q;
      }),
    });
  }
  queue.sort((a, b) => a.submittedAt - b.submittedAt || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  return constraints.length > 0
    ? { configuration, usage, queue, now, constraints }
    : { configuration, usage, queue, now };
}
