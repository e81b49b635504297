import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import {
  ActionErrorCode,
  type ActionRequest,
  type ActionType,
  type SimLinkReply,
  type SimLinkRequest,
} from '@entropy/protocol';
import { DriverError, type DriverVM, type HypervisorDriver, type MigrateOutcome } from './driver.ts';
import { SimFaults } from './sim-faults.ts';
import { simUsage } from './sim-usage.ts';
import { loadSimState, saveSimState, type SimVMRecord, type SimVMState, simStateFile } from './sim-store.ts';

type Demand = ActionRequest['demand'];

/** A VM the simulated hypervisor holds. */
export interface SimVM {
  readonly id: string;
  vjob?: string;
  state: SimVMState;
  demand: Demand;
  /** An action on it is in progress; the hypervisor takes one at a time per VM. */
  busy?: boolean;
}

/** How a sim agent reaches another one (over NATS in the agent, directly in unit tests). */
export type SimPeerSend = (to: string, req: SimLinkRequest) => Promise<SimLinkReply>;

export interface SimDriverOptions {
  readonly node: string;
  /** Capacity per dimension; running and paused VMs must fit in it. Dimensions not named are unlimited. */
  readonly capacity: Readonly<Record<string, number>>;
  /** 100 runs actions 100 times faster than their estimated duration. */
  readonly speed?: number;
  /** Action ids or VM ids whose actions fail with ENTROPY_INJECTED_FAILURE. */
  readonly failOn?: Iterable<string>;
  /** The VMs at first start; ignored when the state directory already holds the hypervisor's state. */
  readonly vms?: readonly SimVMRecord[];
  /** Keeps the VMs (and fault rules' fire counts) here across agent restarts; in memory only when absent. */
  readonly stateDir?: string;
  /** Fault rules (`--sim-faults`), re-read when the file changes. */
  readonly faultsFile?: string;
  /** Measured use to report per VM (`--sim-usage`), re-read when the file changes; the demand otherwise. */
  readonly usageFile?: string;
  readonly peers?: SimPeerSend;
  readonly sleep?: (ms: number) => Promise<void>;
  readonly now?: () => number;
}

export interface SimDriver extends HypervisorDriver {
  /** Handles a peer's side of a migration or remote resume (see SimLinkRequest). */
  receiveFromPeer(req: SimLinkRequest): Promise<SimLinkReply>;
  /** A copy of what the hypervisor holds, for tests. */
  snapshot(): SimVM[];
}

export const SIM_FAULTS_FIRED_FILE = 'sim-faults-fired.json';
/** A hang outlasts the request's timeout by this much: past the executor's grace (1 s by default), as a hung hypervisor would. */
export const HANG_OVERRUN_MS = 2000;
/** How long a reservation or hold made for a peer lasts when the peer names no timeout. */
const DEFAULT_PEER_HOLD_MS = 60_000;

const invalid = (msg: string) => new DriverError(ActionErrorCode.InvalidState, msg);
const holdsResources = (vm: SimVM) => vm.state === 'running' || vm.state === 'paused';

/**
 * A simulated hypervisor for tests and the demo. It enforces what a hypervisor enforces (one
 * action per VM at a time, pause only a running VM, resume only a saved image, room on the node)
 * and takes each action's estimated duration divided by `speed`. Arrivals hold resources from the
 * action's start, departures until its end, as in the cost model.
 *
 * With a state directory its VMs outlive the agent, and each action's effect is saved when the
 * action ends: an agent killed mid-action leaves the VM as it was before. Migrations and remote
 * resumes are two-phase over the peer link: room (or the image) is reserved at the start in
 * memory; at the end the destination saves the VM before the source saves its departure, so a
 * death on either side leaves the VM where it was, or (in the instant between the two writes) on both.
 */
export function simDriver(opts: SimDriverOptions): SimDriver {
  const { node, capacity } = opts;
  const speed = opts.speed ?? 1;
  const failOn = new Set(opts.failOn ?? []);
  const sleep = opts.sleep ?? ((ms: number) => delay(ms));
  const now = opts.now ?? Date.now;
  const stateFile = opts.stateDir ? simStateFile(opts.stateDir) : undefined;
  const stored = stateFile ? loadSimState(stateFile) : undefined;
  const vms = new Map<string, SimVM>((stored ?? opts.vms ?? []).map((v) => [v.id, { ...v, demand: { ...v.demand } }]));
  const save = (): void => {
    if (stateFile) saveSimState(stateFile, vms.values());
  };
  if (!stored) save();
  const faults = opts.faultsFile
    ? new SimFaults({
        file: opts.faultsFile,
        firedFile: opts.stateDir ? join(opts.stateDir, SIM_FAULTS_FIRED_FILE) : undefined,
      })
    : undefined;
  const usage = opts.usageFile ? simUsage(opts.usageFile) : undefined;

  /** Room held by arrivals from their start: this node's runs and resumes, and peers' migrations in (`peer`; they lapse). */
  const reserved = new Map<string, { demand: Demand; until: number; peer?: string }>();
  /** Sleeping images a peer's remote resume holds until it takes them (or the hold lapses). */
  const held = new Map<string, { until: number; by: string }>();
  const isReserved = (vm: string) => {
    const r = reserved.get(vm);
    if (r && r.until <= now()) reserved.delete(vm);
    return reserved.has(vm);
  };
  const isHeld = (vm: string) => {
    const h = held.get(vm);
    if (h && h.until <= now()) held.delete(vm);
    return held.has(vm);
  };
  // A peer that asks again for what it already reserved or holds restarted and retries: a peer
  // acts on a VM once at a time, so the old reservation or hold is the dead attempt's, renewed.
  const reservedByOther = (vm: string, peer: string) => isReserved(vm) && reserved.get(vm)!.peer !== peer;
  const heldByOther = (vm: string, peer: string) => isHeld(vm) && held.get(vm)!.by !== peer;

  function roomFor(vm: string, demand: Demand): void {
    const used: Record<string, number> = {};
    const add = (d: Demand) => {
      for (const [k, q] of Object.entries(d)) used[k] = (used[k] ?? 0) + q;
    };
    for (const v of vms.values()) if (v.id !== vm && holdsResources(v)) add(v.demand);
    for (const [id, r] of reserved) if (id !== vm && isReserved(id)) add(r.demand);
    for (const [k, cap] of Object.entries(capacity)) {
      const need = (used[k] ?? 0) + (demand[k] ?? 0);
      if (need > cap) throw new DriverError(ActionErrorCode.NoRoom, `${node} lacks ${k} for ${vm}: ${need} > ${cap}`);
    }
  }

  /** The VM, checked and marked busy; the caller clears `busy` when the action ends. */
  function take(req: ActionRequest, allowed: readonly SimVMState[]): SimVM {
    const vm = vms.get(req.vm);
    if (!vm) throw invalid(`${req.type} ${req.vm}: no such VM on ${node}`);
    if (vm.busy || isHeld(vm.id)) throw invalid(`${req.type} ${req.vm}: another action on it is in progress`);
    if (!allowed.includes(vm.state))
      throw invalid(`${req.type} ${req.vm}: VM is ${vm.state}, needs ${allowed.join(' or ')}`);
    vm.busy = true;
    return vm;
  }

  function mustBeNew(req: ActionRequest): void {
    const old = vms.get(req.vm);
    if (old || isReserved(req.vm))
      throw invalid(`${req.type} ${req.vm}: VM already exists on ${node}${old ? ` (${old.state})` : ' (arriving)'}`);
  }

  /** The action's simulated duration. */
  async function elapse(req: ActionRequest): Promise<void> {
    const ms = req.estimatedMs / speed;
    if (ms > req.timeoutMs) {
      await sleep(req.timeoutMs);
      throw new DriverError(
        ActionErrorCode.DriverTimeout,
        `${req.type} ${req.vm}: takes ${ms} ms, more than its ${req.timeoutMs} ms timeout`,
      );
    }
    await sleep(ms);
  }

  /** The VM's state after the action, with the request's vjob and demand, saved. */
  function commit(vm: SimVM, req: ActionRequest, state: SimVMState): void {
    vm.state = state;
    vm.vjob = req.vjob;
    vm.demand = req.demand;
    vms.set(vm.id, vm);
    save();
  }

  async function link(to: string, req: SimLinkRequest, refused: string): Promise<void> {
    if (!opts.peers) throw invalid(`${req.op} ${req.vm}: no link to other nodes`);
    const reply = await opts.peers(to, req);
    if (!reply.ok)
      throw new DriverError(
        (reply.error?.code as ActionErrorCode) ?? ActionErrorCode.InvalidState,
        reply.error?.message ?? refused,
      );
  }

  /** Drops what a failed action reserved or held on a peer; a dead peer has nothing to drop. */
  async function release(to: string, req: SimLinkRequest): Promise<void> {
    await opts.peers?.(to, { ...req, op: 'release' }).catch(() => undefined);
  }

  /** Injected faults first: `--sim-fail`, then the rules file. */
  function guarded<R>(type: ActionType, run: (req: ActionRequest) => Promise<R>) {
    return async (req: ActionRequest): Promise<R> => {
      const rule = faults?.fire(req);
      if (rule?.fault === 'hang') {
        await sleep(req.timeoutMs + HANG_OVERRUN_MS);
        throw new DriverError(
          ActionErrorCode.DriverTimeout,
          `${type} ${req.vm} on ${node}: hung (fault rule ${rule.id}) past its ${req.timeoutMs} ms timeout`,
        );
      }
      if (rule) {
        throw new DriverError(
          ActionErrorCode.InjectedFailure,
          `${type} ${req.vm} on ${node}: failure injected by fault rule ${rule.id}`,
          { final: rule.fault === 'fail-final' },
        );
      }
      if (failOn.has(req.actionId) || failOn.has(req.vm)) {
        throw new DriverError(
          ActionErrorCode.InjectedFailure,
          `${type} ${req.vm} on ${node}: failure injected for tests`,
        );
      }
      return run(req);
    };
  }

  /** An action on a VM the node holds, from one of `allowed` states to `to`. */
  const transition = (type: ActionType, allowed: readonly SimVMState[], to: SimVMState | 'gone') =>
    guarded(type, async (req) => {
      const vm = take(req, allowed);
      try {
        await elapse(req);
        if (to === 'gone') {
          vms.delete(vm.id);
          save();
        } else commit(vm, req, to);
      } finally {
        vm.busy = false;
      }
    });

  /** Runs `body` with room reserved for `req.vm` on this node. */
  async function arriving<R>(req: ActionRequest, body: () => Promise<R>): Promise<R> {
    roomFor(req.vm, req.demand);
    reserved.set(req.vm, { demand: req.demand, until: Infinity });
    try {
      return await body();
    } finally {
      reserved.delete(req.vm);
    }
  }

  async function resumeHere(req: ActionRequest): Promise<void> {
    const vm = take(req, ['sleeping']);
    try {
      await arriving(req, async () => {
        await elapse(req);
        commit(vm, req, 'paused');
      });
    } finally {
      vm.busy = false;
    }
  }

  /** The image stays on its node until the resume ends; then that node gives it up and this one saves the paused VM. */
  async function resumeFromPeer(req: ActionRequest): Promise<void> {
    mustBeNew(req);
    const from = req.from!;
    const peerReq: SimLinkRequest = {
      op: 'hold-image',
      vm: req.vm,
      vjob: req.vjob,
      demand: req.demand,
      from,
      to: node,
      timeoutMs: req.timeoutMs,
    };
    await arriving(req, async () => {
      await link(from, peerReq, 'image refused');
      try {
        await elapse(req);
        await link(from, { ...peerReq, op: 'take-image' }, 'image refused');
      } catch (err) {
        await release(from, peerReq);
        throw err;
      }
      commit({ id: req.vm, state: 'paused', demand: req.demand }, req, 'paused');
    });
  }

  async function migrate(req: ActionRequest): Promise<MigrateOutcome> {
    const vm = take(req, ['running', 'paused']);
    try {
      const to = req.to!;
      const peerReq: SimLinkRequest = {
        op: 'migrate-in',
        vm: req.vm,
        vjob: req.vjob,
        demand: req.demand,
        from: node,
        to,
        timeoutMs: req.timeoutMs,
      };
      await link(to, peerReq, 'migration refused');
      try {
        await elapse(req);
        await link(
          to,
          { ...peerReq, op: 'migrate-commit', state: vm.state === 'paused' ? 'paused' : 'running' },
          'migration refused',
        );
      } catch (err) {
        await release(to, peerReq);
        throw err;
      }
      vms.delete(vm.id);
      save();
      return { state: vm.state };
    } finally {
      vm.busy = false;
    }
  }

  function receive(req: SimLinkRequest): void {
    switch (req.op) {
      case 'migrate-in':
        if (vms.has(req.vm) || reservedByOther(req.vm, req.from))
          throw invalid(`migrate ${req.vm}: VM already exists on ${node}`);
        roomFor(req.vm, req.demand);
        reserved.set(req.vm, {
          demand: req.demand,
          until: now() + (req.timeoutMs ?? DEFAULT_PEER_HOLD_MS),
          peer: req.from,
        });
        return;
      case 'migrate-commit': {
        if (vms.has(req.vm)) throw invalid(`migrate ${req.vm}: VM already exists on ${node}`);
        const r = isReserved(req.vm) ? reserved.get(req.vm) : undefined;
        if (r && !r.peer) throw invalid(`migrate ${req.vm}: VM already arriving on ${node}`);
        // A destination that restarted (or waited too long) lost the reservation: it takes the VM if it has room now.
        if (!r) roomFor(req.vm, req.demand);
        vms.set(req.vm, {
          id: req.vm,
          ...(req.vjob !== undefined ? { vjob: req.vjob } : {}),
          state: req.state ?? 'running',
          demand: req.demand,
        });
        save();
        reserved.delete(req.vm);
        return;
      }
      case 'hold-image': {
        const vm = vms.get(req.vm);
        if (!vm || vm.state !== 'sleeping')
          throw invalid(`resume ${req.vm} on ${req.to}: ${node} holds no image of it`);
        if (vm.busy || heldByOther(req.vm, req.to))
          throw invalid(`resume ${req.vm} on ${req.to}: another action on its image is in progress on ${node}`);
        held.set(req.vm, { until: now() + (req.timeoutMs ?? DEFAULT_PEER_HOLD_MS), by: req.to });
        return;
      }
      case 'take-image': {
        // Also when the hold was lost (this agent restarted): the image is given if nothing else acts on it.
        const vm = vms.get(req.vm);
        if (!vm || vm.state !== 'sleeping' || vm.busy)
          throw invalid(`resume ${req.vm} on ${req.to}: ${node} holds no image of it`);
        vms.delete(req.vm);
        held.delete(req.vm);
        save();
        return;
      }
      case 'release':
        if (reserved.get(req.vm)?.peer === req.from) reserved.delete(req.vm);
        if (held.get(req.vm)?.by === req.to) held.delete(req.vm);
        return;
    }
  }

  return {
    name: 'sim',
    async list(): Promise<DriverVM[]> {
      const used = usage?.current() ?? {};
      return [...vms.values()].map((v) => ({
        id: v.id,
        state: v.state,
        cpu: holdsResources(v) ? (used[v.id]?.cpu ?? v.demand.cpu) : 0,
        mem: holdsResources(v) ? (used[v.id]?.mem ?? v.demand.mem) : 0,
      }));
    },
    run: guarded('run', async (req) => {
      mustBeNew(req);
      await arriving(req, async () => {
        await elapse(req);
        commit({ id: req.vm, state: 'running', demand: req.demand }, req, 'running');
      });
    }),
    stop: transition('stop', ['running', 'paused', 'sleeping'], 'gone'),
    pause: transition('pause', ['running'], 'paused'),
    unpause: transition('unpause', ['paused'], 'running'),
    suspend: transition('suspend', ['running', 'paused'], 'sleeping'),
    resume: guarded('resume', (req) => (req.from === node ? resumeHere(req) : resumeFromPeer(req))),
    migrate: guarded('migrate', migrate),
    async receiveFromPeer(req) {
      try {
        receive(req);
        return { ok: true };
      } catch (err) {
        const e = err as DriverError;
        return { ok: false, error: { code: e.code ?? ActionErrorCode.DriverFailed, message: e.message } };
      }
    },
    snapshot: () => [...vms.values()].map((v) => ({ ...v, demand: { ...v.demand } })),
  };
}
