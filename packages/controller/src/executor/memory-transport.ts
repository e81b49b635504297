import { setTimeout as delay } from 'node:timers/promises';
import { ActionErrorCode, type ActionRequest, type ActionResult, executingNode } from '@entropy/protocol';
import { type Configuration, stateAfter, type VMState } from '@entropy/engine';
import { TransientTransportError, type ActionTransport, type SendOptions } from './transport.ts';

export interface MemoryTransportOptions {
  /** An action takes `estimatedMs * timeScale` ms (default 0: the next macrotask). */
  readonly timeScale?: number;
  /** Plan action ids (`a3`) or VM ids whose actions the fake agent fails. */
  readonly failOn?: Iterable<string>;
  /** Plan action ids or VM ids whose actions never get a result. */
  readonly hangOn?: Iterable<string>;
  /** Plan action id -> how many sends fail with a transient error before one gets through. */
  readonly transientFailures?: Readonly<Record<string, number>>;
}

/** One send as the fake agents saw it; `seq` numbers sends and replies in one sequence. */
export interface SendRecord {
  readonly wireId: string;
  readonly type: ActionRequest['type'];
  readonly vm: string;
  readonly vjob: string;
  readonly node: string;
  readonly sentSeq: number;
  repliedSeq?: number;
  ok?: boolean;
  deduplicated?: boolean;
}

/**
 * Agents in memory, for executor tests and benchmarks: they check each action against the VM
 * state machine, take a scaled estimated duration, deduplicate action ids, and record every send
 * and every VM state change in order.
 */
export class MemoryTransport implements ActionTransport {
  readonly sends: SendRecord[] = [];
  /** Every VM state change, in order. */
  readonly transitions: {
    readonly seq: number;
    readonly vm: string;
    readonly vjob: string;
    readonly state: VMState;
  }[] = [];
  private readonly vms = new Map<string, { vjob: string; state: VMState; host?: string }>();
  private readonly results = new Map<string, Promise<ActionResult>>();
  private readonly failOn: Set<string>;
  private readonly hangOn: Set<string>;
  private readonly transient: Map<string, number>;
  private seq = 0;

  constructor(
    configuration: Configuration,
    private readonly options: MemoryTransportOptions = {},
  ) {
    for (const vm of configuration.vms)
      this.vms.set(vm.id, { vjob: vm.vjob, state: vm.state, ...(vm.host ? { host: vm.host } : {}) });
    this.failOn = new Set(options.failOn ?? []);
    this.hangOn = new Set(options.hangOn ?? []);
    this.transient = new Map(Object.entries(options.transientFailures ?? {}));
  }

  stateOf(vm: string): { readonly state: VMState; readonly host?: string } | undefined {
    return this.vms.get(vm);
  }

  /** The VMs of each vjob by state, for "never half paused" checks. */
  vjobStates(): Map<string, Set<VMState>> {
    const out = new Map<string, Set<VMState>>();
    for (const v of this.vms.values()) out.set(v.vjob, (out.get(v.vjob) ?? new Set()).add(v.state));
    return out;
  }

  send(req: ActionRequest, options: SendOptions): Promise<ActionResult> {
    const planActionId = req.actionId.slice(req.actionId.indexOf(':') + 1);
    const node = executingNode(req);
    const record: SendRecord = {
      wireId: req.actionId,
      type: req.type,
      vm: req.vm,
      vjob: req.vjob,
      node,
      sentSeq: this.seq++,
    };
    this.sends.push(record);
    const transient = this.transient.get(planActionId) ?? 0;
    if (transient > 0) {
      this.transient.set(planActionId, transient - 1);
      record.repliedSeq = this.seq++;
      return Promise.reject(new TransientTransportError(node, `no responders on ${node} (injected)`));
    }
    let result = this.results.get(req.actionId);
    if (result) {
      record.deduplicated = true;
      result = result.then((r) => ({ ...r, deduplicated: true }));
    } else {
      result = this.execute(req, node, planActionId, options.signal);
      this.results.set(req.actionId, result);
    }
    return result.then((r) => {
      record.repliedSeq = this.seq++;
      record.ok = r.ok;
      // As an agent does: the request's nonce, echoed.
      return req.nonce !== undefined ? { ...r, nonce: req.nonce } : r;
    });
  }

  private async execute(
    req: ActionRequest,
    node: string,
    planActionId: string,
    signal: AbortSignal,
  ): Promise<ActionResult> {
    const matches = (set: Set<string>) => set.has(planActionId) || set.has(req.vm);
    if (matches(this.hangOn)) return new Promise<never>(() => {});
    const vm = this.vms.get(req.vm);
    const from = vm?.state ?? 'waiting';
    const to = stateAfter(req.type, from);
    const t0 = performance.now();
    const begin = () => {
      if (to === undefined) throw new Error(`${req.type} ${req.vm}: VM is ${from}`);
      if (vm?.host !== undefined && req.type !== 'run' && req.from !== vm.host)
        throw new Error(`${req.type} ${req.vm}: VM is on ${vm.host}, not ${req.from}`);
    };
    try {
      if (matches(this.failOn)) throw new Error(`${req.type} ${req.vm} on ${node}: failure injected`);
      begin();
      await delay(req.estimatedMs * (this.options.timeScale ?? 0), undefined, { signal }).catch(() => {});
      const host = to === 'terminated' ? undefined : (req.to ?? req.from);
      this.vms.set(req.vm, { vjob: req.vjob, state: to!, ...(host ? { host } : {}) });
      this.transitions.push({ seq: this.seq++, vm: req.vm, vjob: req.vjob, state: to! });
      return {
        actionId: req.actionId,
        node,
        ok: true,
        durationMs: performance.now() - t0,
        state: to!,
        ...(host ? { host } : {}),
      };
    } catch (err) {
      await delay(0);
      return {
        actionId: req.actionId,
        node,
        ok: false,
        error: { code: ActionErrorCode.InjectedFailure, message: (err as Error).message },
        durationMs: performance.now() - t0,
      };
    }
  }
}
