import { type ControlError, ControlErrorCode, type Logger } from '@entropy/protocol';
import { type Resources, type VJobState, vjobStateOf } from '@entropy/engine';
import { MemoryRegistry, type MonitorView, vjobIndexOf } from '../monitor/index.ts';
import { bySubmission, type QueueStore, type StoredVJob, type StoredVM, VJobEnd, VJobOwner } from './queue-store.ts';
import type { VJobSpec } from './vjob-file.ts';

/**
 * What the agents tell of a queued vjob: its state when the monitor plans with it, `gone` when no
 * node holds any of its VMs any more (stopped, or vanished from every online node), `unknown` when
 * part of it is on an offline node, crashed or otherwise left out of planning.
 */
export type ObservedVJob = VJobState | 'gone' | 'unknown';

export function observeVJob(vjob: StoredVJob, view: MonitorView): ObservedVJob {
  const index = vjobIndexOf(view);
  const vms = index.vms.get(vjob.id);
  if (vms !== undefined) return vjobStateOf(vms.map((v) => v.state));
  const left = index.excluded.get(vjob.id) ?? [];
  return left.every((e) => e.reason === 'missing') ? 'gone' : 'unknown';
}

/** How long an ended vjob stays in the queue for `entropy queue` to show: one day. */
export const DEFAULT_KEEP_ENDED_MS = 24 * 60 * 60 * 1000;

export type QueueResult =
  | { readonly ok: true; readonly vjob: StoredVJob }
  | { readonly ok: false; readonly error: ControlError };

/**
 * The vjob queue of a controller: the store (the truth across restarts), a cache of it (this
 * process is its only writer in normal operation; every write is still a compare-and-set), and the
 * registry entries that tell the monitor about the queued VMs no node holds yet.
 */
export class VJobQueue {
  private readonly cache = new Map<string, StoredVJob>();
  private registry: MemoryRegistry = new MemoryRegistry();

  private constructor(
    readonly store: QueueStore,
    private readonly logger: Logger,
    private readonly keepEndedMs: number,
  ) {}

  /**
   * Reads the store; `attach` then tells the controller's monitor about the vjobs. An ended vjob
   * stays listed (and its id taken) for `keepEndedMs` after its end, then `reconcile` removes it.
   */
  static async open(store: QueueStore, logger: Logger, options: { keepEndedMs?: number } = {}): Promise<VJobQueue> {
    const q = new VJobQueue(store, logger, options.keepEndedMs ?? DEFAULT_KEEP_ENDED_MS);
    for (const v of await store.list()) q.cache.set(v.id, v);
    return q;
  }

  /** Reads the store again (a standby taking over: the previous leader wrote meanwhile) and registers what it holds. */
  async reload(): Promise<void> {
    const all = await this.store.list();
    this.cache.clear();
    for (const v of all) this.cache.set(v.id, v);
    for (const v of this.cache.values()) if (v.state !== 'terminated') this.register(v);
  }

  /** Registers every vjob that has not ended with the controller's registry, so that the monitor plans with it. */
  attach(registry: MemoryRegistry): void {
    this.registry = registry;
    for (const v of this.cache.values()) if (v.state !== 'terminated') this.register(v);
  }

  list(): StoredVJob[] {
    return [...this.cache.values()].sort(bySubmission);
  }

  get(id: string): StoredVJob | undefined {
    return this.cache.get(id);
  }

  /** Vjobs the policy decides on: its own (not the operator's), not ended, not being cancelled, planned by the monitor now. */
  schedulable(view: MonitorView): StoredVJob[] {
    const planned = new Set(view.configuration.vjobs.map((j) => j.id));
    return this.list().filter(
      (v) =>
        v.owner !== VJobOwner.Operator &&
        v.state !== 'terminated' &&
        v.cancelRequestedAt === undefined &&
        planned.has(v.id),
    );
  }

  /**
   * Registers the vjobs an operator names (`entropy apply`): stored with the operator as owner and
   * their VMs' demand, so that a restarted controller knows them and keeps driving them to their
   * wanted state. A vjob the queue holds already keeps its record; VMs it did not list are added.
   */
  async registerOperatorVjobs(
    vjobs: readonly {
      readonly id: string;
      readonly priority: number;
      readonly submittedAt: number;
      readonly state: VJobState;
    }[],
    vms: readonly { readonly id: string; readonly vjob: string; readonly demand: Resources }[],
  ): Promise<void> {
    const vmsOf = new Map<string, { id: string; demand: Resources; started: boolean }[]>();
    for (const vm of vms) {
      const list = vmsOf.get(vm.vjob);
      if (list) list.push({ id: vm.id, demand: { ...vm.demand }, started: false });
      else vmsOf.set(vm.vjob, [{ id: vm.id, demand: { ...vm.demand }, started: false }]);
    }
    for (const j of vjobs) {
      const own = vmsOf.get(j.id) ?? [];
      const known = this.cache.get(j.id);
      if (known && known.state !== 'terminated') {
        const listed = new Set(known.vms.map((vm) => vm.id));
        const added = own.filter((vm) => !listed.has(vm.id));
        if (added.length === 0) continue;
        const next = await this.write(j.id, (cur) => ({
          ...cur,
          vms: [...cur.vms, ...added.filter((vm) => !cur.vms.some((c) => c.id === vm.id))],
        }));
        if (next) this.register(next);
        continue;
      }
      if (known) await this.store.remove(j.id); // an ended vjob's id, taken again by an operator
      const vjob: StoredVJob = {
        id: j.id,
        owner: VJobOwner.Operator,
        priority: j.priority,
        submittedAt: j.submittedAt,
        state: j.state,
        vms: own,
      };
      if (!(await this.store.add(vjob))) continue;
      this.cache.set(vjob.id, vjob);
      this.register(vjob);
      this.logger.info({ vjob: vjob.id, vms: vjob.vms.length, state: vjob.state }, 'vjob registered by an operator');
    }
  }

  /** Records what an operator wants of its vjob; the loop drives the vjob there, also after a restart. */
  async want(id: string, state: VJobState): Promise<void> {
    const current = this.cache.get(id);
    if (!current || current.owner !== VJobOwner.Operator || current.wanted === state) return;
    await this.write(id, (v) => (v.state === 'terminated' ? undefined : { ...v, wanted: state }));
  }

  /** True for a vjob the policy decides on (a submitted one); false for an operator's or an unknown one. */
  isPolicyVjob(id: string): boolean {
    const v = this.cache.get(id);
    return v !== undefined && v.owner !== VJobOwner.Operator;
  }

  /** Cancelled vjobs that still hold VMs: the loop asks for them to be terminated. */
  cancelling(view: MonitorView): StoredVJob[] {
    const planned = new Set(view.configuration.vjobs.map((j) => j.id));
    return this.list().filter(
      (v) => v.state !== 'terminated' && v.cancelRequestedAt !== undefined && planned.has(v.id),
    );
  }

  async submit(spec: VJobSpec, now: number, view: MonitorView): Promise<QueueResult> {
    if (
      this.cache.has(spec.id) ||
      this.registry.vjobs.has(spec.id) ||
      view.configuration.vjobs.some((j) => j.id === spec.id)
    )
      return refuse(
        ControlErrorCode.Conflict,
        `vjob ${spec.id} exists already (an ended vjob keeps its id while the queue lists it)`,
        'vjob.id',
      );
    const taken = new Set([
      ...this.registry.vms.keys(),
      ...view.configuration.vms.map((v) => v.id),
      ...view.excluded.map((e) => e.vm),
    ]);
    for (const v of this.cache.values()) for (const vm of v.vms) taken.add(vm.id);
    const clash = spec.vms.findIndex((vm) => taken.has(vm.id));
    if (clash >= 0)
      return refuse(ControlErrorCode.Conflict, `VM ${spec.vms[clash]!.id} exists already`, `vjob.vms[${clash}].id`);
    const vjob: StoredVJob = {
      id: spec.id,
      priority: spec.priority,
      submittedAt: now,
      state: 'waiting',
      vms: spec.vms.map((vm) => ({ id: vm.id, demand: { ...vm.demand }, started: false })),
      ...(spec.constraints?.length ? { constraints: spec.constraints } : {}),
    };
    if (!(await this.store.add(vjob)))
      return refuse(ControlErrorCode.Conflict, `vjob ${spec.id} exists already in the queue store`, 'vjob.id');
    this.cache.set(vjob.id, vjob);
    this.register(vjob);
    this.logger.info({ vjob: vjob.id, priority: vjob.priority, vms: vjob.vms.length }, 'vjob submitted');
    return { ok: true, vjob };
  }

  /**
   * Marks a vjob cancelled. One that is waiting (no node holds any of its VMs) while no plan runs
   * ends at once; otherwise the next turn asks for it to be terminated and it ends once its VMs are gone.
   */
  async cancel(id: string, view: MonitorView, planRunning: boolean, now: number): Promise<QueueResult> {
    const current = this.cache.get(id);
    if (!current) return refuse(ControlErrorCode.UnknownVJob, `no vjob ${id} in the queue`, 'id');
    if (current.state === 'terminated') return { ok: true, vjob: current };
    const endsNow = !planRunning && observeVJob(current, view) === 'waiting';
    const vjob = await this.write(id, (v) =>
      v.state === 'terminated'
        ? undefined
        : { ...v, cancelRequestedAt: v.cancelRequestedAt ?? now, ...(endsNow ? ended(VJobEnd.Cancelled, now) : {}) },
    );
    if (!vjob) return refuse(ControlErrorCode.UnknownVJob, `no vjob ${id} in the queue store`, 'id');
    if (vjob.state === 'terminated') this.forget(vjob);
    this.logger.info(
      { vjob: id, state: vjob.state },
      vjob.state === 'terminated' ? 'vjob cancelled' : 'vjob cancel requested: its VMs will be stopped',
    );
    return { ok: true, vjob };
  }

  /** True when the agents report a queued vjob in another state than the store holds: a turn should look. */
  observedChange(view: MonitorView): boolean {
    return this.list().some((v) => {
      if (v.state === 'terminated') return false;
      const seen = observeVJob(v, view);
      return seen !== 'unknown' && (seen !== v.state || (seen === 'waiting' && v.cancelRequestedAt !== undefined));
    });
  }

  /**
   * Brings the store in line with what the agents report: a vjob's observed state, its end when all
   * its VMs are gone (`mayEnd` false right after a restart, until every agent has reported), and the
   * end of a cancelled vjob that holds no VM. Resolves to true when it changed what the monitor's
   * registry says (a view taken before is then out of date).
   */
  async reconcile(view: MonitorView, options: { mayEnd: boolean; now: number }): Promise<boolean> {
    let changed = await this.pruneEnded(options.now);
    const stateOfVm = new Map(view.configuration.vms.map((vm) => [vm.id, vm.state]));
    const isStarted = (s: string | undefined) => s === 'running' || s === 'paused' || s === 'sleeping';
    for (const v of this.list()) {
      if (v.state === 'terminated') continue;
      // A VM an agent reports for the first time is started: from now on, no longer reported means gone, not waiting.
      if (v.vms.some((vm) => !startedOf(vm, v) && isStarted(stateOfVm.get(vm.id)))) {
        const next = await this.write(v.id, (cur) => ({
          ...cur,
          vms: cur.vms.map((vm) =>
            startedOf(vm, cur) || !isStarted(stateOfVm.get(vm.id)) ? vm : { ...vm, started: true },
          ),
        }));
        if (next) {
          this.register(next);
          changed = true;
        }
      }
      const seen = observeVJob(v, view);
      const cancelledWaiting = seen === 'waiting' && v.cancelRequestedAt !== undefined;
      if (seen === 'unknown' || (seen === v.state && !cancelledWaiting)) continue;
      // `gone` needs a plan to have run the VMs: the monitor shows never-run VMs as waiting (the
      // registry says so). A vjob the store still holds as waiting may thus end too: its VMs ran
      // and stopped between two turns.
      const ends = (seen === 'gone' && options.mayEnd) || cancelledWaiting;
      if (seen === 'gone' && !ends) continue;
      const end = v.cancelRequestedAt !== undefined ? VJobEnd.Cancelled : VJobEnd.Finished;
      const next = await this.write(v.id, (cur) =>
        cur.state === 'terminated'
          ? undefined
          : ends
            ? { ...cur, ...ended(end, options.now) }
            : { ...cur, state: seen as VJobState },
      );
      if (!next) continue;
      changed = true;
      if (next.state === 'terminated') {
        this.forget(next);
        this.logger.info(
          { vjob: v.id, end: next.end },
          next.end === VJobEnd.Finished ? 'vjob finished: all its VMs are gone' : 'vjob cancelled',
        );
      } else {
        this.register(next);
        this.logger.info({ vjob: v.id, from: v.state, to: next.state }, 'vjob state observed');
      }
    }
    return changed;
  }

  /** Removes the vjobs that ended more than `keepEndedMs` ago, from the store and from the monitor's registry; true when it removed one. */
  private async pruneEnded(now: number): Promise<boolean> {
    let removed = false;
    for (const v of this.list()) {
      if (v.state !== 'terminated' || v.endedAt === undefined || now - v.endedAt < this.keepEndedMs) continue;
      try {
        await this.store.remove(v.id);
      } catch (err) {
        this.logger.warn(
          { vjob: v.id, err: (err as Error).message },
          'cannot remove an ended vjob from the queue store; kept',
        );
        continue;
      }
      this.cache.delete(v.id);
      this.registry.vjobs.delete(v.id);
      for (const vm of v.vms) if (this.registry.vms.get(vm.id)?.vjob === v.id) this.registry.vms.delete(vm.id);
      removed = true;
      this.logger.info({ vjob: v.id, end: v.end, endedAt: v.endedAt }, 'ended vjob removed from the queue');
    }
    return removed;
  }

  private async write(id: string, change: (v: StoredVJob) => StoredVJob | undefined): Promise<StoredVJob | undefined> {
    const next = await this.store.update(id, change);
    if (next) this.cache.set(id, next);
    return next;
  }

  /** The monitor's knowledge of a vjob: its VMs' vjob and demand, and `waiting` for each VM never started. */
  private register(v: StoredVJob): void {
    this.registry.vjobs.set(v.id, { id: v.id, priority: v.priority, submittedAt: v.submittedAt });
    for (const vm of v.vms)
      this.registry.vms.set(
        vm.id,
        startedOf(vm, v)
          ? { id: vm.id, vjob: v.id, demand: vm.demand }
          : { id: vm.id, vjob: v.id, demand: vm.demand, state: 'waiting' },
      );
  }

  private forget(v: StoredVJob): void {
    for (const vm of v.vms)
      this.registry.vms.set(vm.id, { id: vm.id, vjob: v.id, demand: vm.demand, state: 'terminated' });
  }
}

function startedOf(vm: StoredVM, v: StoredVJob): boolean {
  return vm.started ?? v.state !== 'waiting';
}

function ended(end: VJobEnd, now: number): Pick<StoredVJob, 'state' | 'end' | 'endedAt'> {
  return { state: 'terminated', end, endedAt: now };
}

function refuse(code: ControlErrorCode, message: string, field?: string): QueueResult {
  return { ok: false, error: { code, message, ...(field ? { field } : {}) } };
}
