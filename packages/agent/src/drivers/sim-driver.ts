import { setTimeout as delay } from 'node:timers/promises';
import {
  ActionErrorCode,
  type ActionRequest,
  type ActionType,
  type SimLinkReply,
  type SimLinkRequest,
  type WireVMState,
} from '@entropy/protocol';
import { DriverError, type DriverVM, type HypervisorDriver } from './driver.ts';

type Demand = ActionRequest['demand'];

/** A VM the simulated hypervisor holds. */
export interface SimVM {
  readonly id: string;
  vjob?: string;
  state: WireVMState;
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
  readonly vms?: readonly Omit<SimVM, 'busy'>[];
  readonly peers?: SimPeerSend;
  readonly sleep?: (ms: number) => Promise<void>;
}

export interface SimDriver extends HypervisorDriver {
  /** Handles a peer's hand-over: a VM migrating in, or a sleeping VM's image taken by the node resuming it. */
  receiveFromPeer(req: SimLinkRequest): Promise<SimLinkReply>;
  /** A copy of what the hypervisor holds, for tests. */
  snapshot(): SimVM[];
}

const invalid = (msg: string) => new DriverError(ActionErrorCode.InvalidState, msg);
const holdsResources = (vm: SimVM) => vm.state === 'running' || vm.state === 'paused';

/**
 * A simulated hypervisor for tests and the demo. It enforces what a hypervisor enforces (one
 * action per VM at a time, pause only a running VM, resume only a saved image, room on the node)
 * and takes each action's estimated duration divided by `speed`. Arrivals hold resources from the
 * action's start, departures until its end, as in the cost model.
 */
export function simDriver(opts: SimDriverOptions): SimDriver {
  const { node, capacity } = opts;
  const speed = opts.speed ?? 1;
  const failOn = new Set(opts.failOn ?? []);
  const sleep = opts.sleep ?? ((ms: number) => delay(ms));
  const vms = new Map<string, SimVM>((opts.vms ?? []).map((v) => [v.id, { ...v }]));

  function roomFor(vm: string, demand: Demand): void {
    const used: Record<string, number> = {};
    for (const v of vms.values()) {
      if (v.id === vm || !holdsResources(v)) continue;
      for (const [k, q] of Object.entries(v.demand)) used[k] = (used[k] ?? 0) + q;
    }
    for (const [k, cap] of Object.entries(capacity)) {
      const need = (used[k] ?? 0) + (demand[k] ?? 0);
      if (need > cap) throw new DriverError(ActionErrorCode.NoRoom, `${node} lacks ${k} for ${vm}: ${need} > ${cap}`);
    }
  }

  function take(req: ActionRequest, allowed: readonly WireVMState[]): SimVM {
    const vm = vms.get(req.vm);
    if (!vm) throw invalid(`${req.type} ${req.vm}: no such VM on ${node}`);
    if (vm.busy) throw invalid(`${req.type} ${req.vm}: another action on it is in progress`);
    if (!allowed.includes(vm.state)) throw invalid(`${req.type} ${req.vm}: VM is ${vm.state}, needs ${allowed.join(' or ')}`);
    return vm;
  }

  /** Runs one action: checks, then `begin` (state checks and arrivals), the simulated duration, then `end`. */
  function act(type: ActionType, begin: (req: ActionRequest) => Promise<SimVM> | SimVM, end: (vm: SimVM, req: ActionRequest) => void) {
    return async (req: ActionRequest) => {
      if (failOn.has(req.actionId) || failOn.has(req.vm)) {
        throw new DriverError(ActionErrorCode.InjectedFailure, `${type} ${req.vm} on ${node}: failure injected for tests`);
      }
      const vm = await begin(req);
      vm.busy = true;
      vm.demand = req.demand;
      vm.vjob = req.vjob;
      try {
        const ms = req.estimatedMs / speed;
        if (ms > req.timeoutMs) {
          await sleep(req.timeoutMs);
          throw new DriverError(ActionErrorCode.DriverTimeout, `${type} ${req.vm}: takes ${ms} ms, more than its ${req.timeoutMs} ms timeout`);
        }
        await sleep(ms);
        end(vm, req);
      } finally {
        vm.busy = false;
      }
    };
  }

  const set = (state: WireVMState) => (vm: SimVM) => void (vm.state = state);

  return {
    name: 'sim',
    async list(): Promise<DriverVM[]> {
      return [...vms.values()].map((v) => ({ id: v.id, state: v.state, cpu: holdsResources(v) ? v.demand.cpu : 0, mem: holdsResources(v) ? v.demand.mem : 0 }));
    },
    run: act(
      'run',
      (req) => {
        const old = vms.get(req.vm);
        if (old && old.state !== 'terminated') throw invalid(`run ${req.vm}: VM already exists on ${node} (${old.state})`);
        roomFor(req.vm, req.demand);
        const vm: SimVM = { id: req.vm, vjob: req.vjob, state: 'running', demand: req.demand };
        vms.set(vm.id, vm);
        return vm;
      },
      () => {},
    ),
    stop: act('stop', (req) => take(req, ['running', 'paused', 'sleeping', 'crashed']), (vm) => void vms.delete(vm.id)),
    pause: act('pause', (req) => take(req, ['running']), set('paused')),
    unpause: act('unpause', (req) => take(req, ['paused']), set('running')),
    suspend: act('suspend', (req) => take(req, ['running', 'paused']), set('sleeping')),
    resume: act(
      'resume',
      async (req) => {
        if (req.from === node) {
          const vm = take(req, ['sleeping']);
          roomFor(req.vm, req.demand);
          vm.state = 'paused';
          return vm;
        }
        if (vms.has(req.vm)) throw invalid(`resume ${req.vm}: VM already exists on ${node}`);
        roomFor(req.vm, req.demand);
        if (!opts.peers) throw invalid(`resume ${req.vm} from ${req.from}: no link to other nodes`);
        const reply = await opts.peers(req.from!, { op: 'take-image', vm: req.vm, vjob: req.vjob, demand: req.demand, from: req.from!, to: node });
        if (!reply.ok) throw new DriverError((reply.error?.code as ActionErrorCode) ?? ActionErrorCode.InvalidState, reply.error?.message ?? 'image refused');
        const vm: SimVM = { id: req.vm, vjob: req.vjob, state: 'paused', demand: req.demand };
        vms.set(vm.id, vm);
        return vm;
      },
      () => {},
    ),
    migrate: act(
      'migrate',
      async (req) => {
        const vm = take(req, ['running', 'paused']);
        if (!opts.peers) throw invalid(`migrate ${req.vm}: no link to other nodes`);
        const reply = await opts.peers(req.to!, { op: 'migrate-in', vm: req.vm, vjob: req.vjob, demand: req.demand, from: node, to: req.to! });
        if (!reply.ok) throw new DriverError((reply.error?.code as ActionErrorCode) ?? ActionErrorCode.InvalidState, reply.error?.message ?? 'migration refused');
        return vm;
      },
      (vm) => void vms.delete(vm.id),
    ),
    async receiveFromPeer(req) {
      try {
        if (req.op === 'migrate-in') {
          if (vms.has(req.vm)) throw invalid(`migrate ${req.vm}: VM already exists on ${node}`);
          roomFor(req.vm, req.demand);
          vms.set(req.vm, { id: req.vm, vjob: req.vjob, state: 'running', demand: req.demand });
        } else {
          const vm = vms.get(req.vm);
          if (!vm || vm.state !== 'sleeping' || vm.busy) throw invalid(`resume ${req.vm} on ${req.to}: ${node} holds no image of it`);
          vms.delete(req.vm);
        }
        return { ok: true };
      } catch (err) {
        const e = err as DriverError;
        return { ok: false, error: { code: e.code ?? ActionErrorCode.DriverFailed, message: e.message } };
      }
    },
    snapshot: () => [...vms.values()].map((v) => ({ ...v, demand: { ...v.demand } })),
  };
}
