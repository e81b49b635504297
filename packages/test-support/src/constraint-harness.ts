import { expect } from 'vitest';
import {
  type ActionType,
  buildPlanView,
  checkConstraints,
  type Configuration,
  type Constraint,
  contextSwitch,
  costModelWith,
  type Decision,
  type FeasiblePlan,
  type Node,
  type NodeAction,
  type PlannedAction,
  prepareInstance,
  type VerifiablePlan,
  verifyPlan,
  type VM,
} from '@entropy/engine';

/** Small clusters for the constraints' tests: every VM is its own vjob. */
export const node = (id: string, cpu = 4, mem = 4096, state: 'online' | 'offline' = 'online'): Node => ({
  id,
  capacity: { cpu, mem },
  state,
});

export function vm(id: string, host?: string, opts: { cpu?: number; mem?: number; state?: VM['state'] } = {}): VM {
  const state = opts.state ?? (host ? 'running' : 'waiting');
  return { id, vjob: id, demand: { cpu: opts.cpu ?? 1, mem: opts.mem ?? 1024 }, state, ...(host ? { host } : {}) };
}

export const cluster = (nodes: Node[], vms: VM[]): Configuration => ({
  nodes,
  vms,
  vjobs: vms.map((v) => ({ id: v.vjob, vms: [v.id], priority: 0, submittedAt: 0 })),
});

export const COST = costModelWith();

/** Solves with the constraints and checks that the plan verifies with them; returns the plan. */
export function solve(configuration: Configuration, constraints: Constraint[], decision: Decision = {}): FeasiblePlan {
  const plan = contextSwitch(configuration, decision, COST, { constraints });
  if (!plan.feasible) throw new Error(`expected a plan, got: ${plan.reason}`);
  const verdict = verifyPlan(configuration, decision, plan, constraints);
  expect(verdict.ok ? 'ok' : verdict.violation.message).toBe('ok');
  return plan;
}

export function infeasible(configuration: Configuration, constraints: Constraint[], decision: Decision = {}): string {
  const plan = contextSwitch(configuration, decision, COST, { constraints });
  if (plan.feasible) throw new Error('expected no plan');
  return plan.reason;
}

/** The verifier's message for a plan, or 'ok'. */
export function check(
  configuration: Configuration,
  plan: VerifiablePlan,
  constraints: Constraint[],
  decision: Decision = {},
): string {
  const verdict = verifyPlan(configuration, decision, plan, constraints);
  return verdict.ok ? 'ok' : verdict.violation.message;
}

/** The constraints' own message for a plan (their check alone, before the verifier's other checks), or 'ok'. */
export function constraintMessage(
  configuration: Configuration,
  plan: VerifiablePlan,
  constraints: Constraint[],
  decision: Decision = {},
): string {
  const prepared = prepareInstance(configuration, decision, constraints);
  const found = checkConstraints(
    buildPlanView(prepared.configuration, [...plan.actions, ...(plan.nodeActions ?? [])]),
    constraints,
  );
  return found ? found.message : 'ok';
}

let seq = 0;
/** A VM action for hand-written plans. */
export function act(
  type: ActionType,
  vmId: string,
  where: { from?: string; to?: string },
  start: number,
  end: number,
  step = 0,
  dependsOn: string[] = [],
): PlannedAction {
  return { id: `t${++seq}`, type, vm: vmId, vjob: vmId, ...where, start, end, step, dependsOn };
}

export function nodeAct(
  type: NodeAction['type'],
  nodeId: string,
  start: number,
  end: number,
  step = 0,
  dependsOn: string[] = [],
): NodeAction {
  return { id: `t${++seq}`, type, node: nodeId, start, end, step, dependsOn };
}

/** A hand-written plan (no target: the verifier derives the final state). */
export function planOf(actions: PlannedAction[], nodeActions: NodeAction[] = []): VerifiablePlan {
  const all = [...actions, ...nodeActions];
  const steps = all.reduce((m, a) => Math.max(m, a.step + 1), 0);
  const makespan = all.reduce((m, a) => Math.max(m, a.end), 0);
  return {
    feasible: true,
    actions,
    ...(nodeActions.length ? { nodeActions } : {}),
    steps,
    makespan,
    sumCompletion: 0,
    solveMs: 0,
  };
}

/** Where each VM runs at the end of a plan. */
export const hosts = (plan: FeasiblePlan) =>
  Object.fromEntries(Object.entries(plan.target).map(([id, t]) => [id, t.host ?? t.state]));
