import { contextSwitch } from '../engine/context-switch.ts';
import type { Configuration, Decision, Node, VM } from '../model/configuration.ts';
import type { CostModel } from '../model/cost-model.ts';
import { holdsResources } from '../model/lifecycle.ts';
import type { FeasiblePlan } from '../model/plan.ts';
import type { Resources } from '../model/resources.ts';
import type { MonitorView } from '../monitor/index.ts';
import { buildPolicyView, decideSafely, type Policy, type PolicyError, type PolicyView } from '../policy/index.ts';
import { cautiousPlan } from './cautious-plan.ts';

export interface PolicyTurnInput {
  readonly view: MonitorView;
  readonly policy: Policy;
  /** Queued vjobs the policy decides on (not ended, not being cancelled, planned by the monitor). */
  readonly schedulable: readonly string[];
  /** Cancelled vjobs that still hold VMs: the turn asks for them to be terminated, whatever the policy says. */
  readonly cancelling: readonly string[];
  readonly lastGood: Decision;
  readonly now: number;
  readonly costModel: CostModel;
  readonly timeLimitMs?: number;
}

export interface PolicyTurn {
  /** The policy's decision, or the last good one when the policy failed (then `error` says why). */
  readonly policyDecision: Decision;
  readonly error?: PolicyError;
  /** What the plan reaches: the policy's decision, cancellations, minus starts deferred for lack of room. */
  readonly decision: Decision;
  /** The configuration the engine planned from: VMs sized at peak or at measured use, per the policy's `sizing`. */
  readonly configuration: Configuration;
  readonly plan?: FeasiblePlan;
  /** Why no plan reaches even a part of the decision. */
  readonly infeasible?: string;
  /** Vjobs the policy started that the plan leaves for a later turn (no room at peak demand). */
  readonly deferred: readonly string[];
}

/**
 * One decision of the control loop, pure: the policy sees the queued vjobs only, on nodes whose
 * room is reduced by the VMs it does not manage (an `entropy apply`'s, cancelled vjobs still
 * running); the engine plans the whole cluster to that decision. When the decision does not fit at
 * the demands the engine uses, the oldest starts that fit are kept (cautiousPlan).
 */
export function planPolicyTurn(input: PolicyTurnInput): PolicyTurn {
  const { view, policy } = input;
  const policyView = policyViewOf(view, new Set(input.schedulable), input.now);
  const { decision: policyDecision, error } = decideSafely(policy, policyView, input.lastGood);
  const decision: Record<string, Decision[string]> = { ...policyDecision };
  for (const j of input.cancelling) decision[j] = 'terminated';
  const configuration = policy.sizing === 'peak' ? view.configuration : sizedByUsage(view.configuration, view.usage);
  const base = { policyDecision, ...(error ? { error } : {}), configuration };
  if (Object.keys(decision).length === 0) return { ...base, decision, deferred: [] };
  const options = input.timeLimitMs !== undefined ? { timeLimitMs: input.timeLimitMs } : {};
  const plan = contextSwitch(configuration, decision, input.costModel, options);
  if (plan.feasible) return { ...base, decision, plan, deferred: [] };
  const running = new Set(policyView.queue.filter((j) => j.state === 'running').map((j) => j.id));
  const starts = policyView.queue.filter((j) => !running.has(j.id) && decision[j.id] === 'running').map((j) => j.id);
  const partial = cautiousPlan(decision, starts, (d) => {
    const p = contextSwitch(configuration, d, input.costModel, options);
    return p.feasible ? p : undefined;
  });
  if (!partial) return { ...base, decision, infeasible: plan.reason, deferred: [] };
  const deferred = starts.filter((j) => !(j in partial.decision));
  return { ...base, decision: partial.decision, plan: partial.plan, deferred };
}

/** The queued vjobs' part of the monitor's view, on nodes with the room the other VMs leave. */
export function policyViewOf(view: MonitorView, vjobs: ReadonlySet<string>, now: number): PolicyView {
  const { configuration } = view;
  const taken = new Map<string, Record<string, number>>();
  const vms: VM[] = [];
  for (const vm of configuration.vms) {
    if (vjobs.has(vm.vjob)) {
      vms.push(vm);
      continue;
    }
    if (!holdsResources(vm.state) || vm.host === undefined) continue;
    let t = taken.get(vm.host);
    if (t === undefined) taken.set(vm.host, (t = {}));
    for (const k in vm.demand) t[k] = (t[k] ?? 0) + vm.demand[k]!;
  }
  const nodes: Node[] = configuration.nodes.map((n) => {
    const t = taken.get(n.id);
    if (!t) return n;
    const capacity: Record<string, number> = { ...n.capacity };
    for (const k in t) capacity[k] = Math.max(0, (capacity[k] ?? 0) - t[k]!);
    return { ...n, capacity };
  });
  const restricted: Configuration = { nodes, vms, vjobs: configuration.vjobs.filter((j) => vjobs.has(j.id)) };
  return buildPolicyView(restricted, view.usage, now);
}

/** Running VMs sized at their measured CPU use (memory stays the demand: a VM holds it all). */
export function sizedByUsage(configuration: Configuration, usage: Readonly<Record<string, Resources>>): Configuration {
  return {
    ...configuration,
    // A plain clone then a store, not { ...x, more } (Node 20's slow path): one VM and one demand per running VM, every turn.
    vms: configuration.vms.map((vm) => {
      const cpu = usage[vm.id]?.cpu;
      if (!holdsResources(vm.state) || cpu === undefined) return vm;
      const demand: Record<string, number> = { ...vm.demand };
      demand.cpu = cpu;
      return vm.host !== undefined ? { id: vm.id, vjob: vm.vjob, demand, state: vm.state, host: vm.host } : { id: vm.id, vjob: vm.vjob, demand, state: vm.state };
    }),
  };
}
