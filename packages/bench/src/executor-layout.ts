/**
 * The executor bench's cluster, shared by the bench process and the agent children: node ids, the
 * VMs each sim agent holds, the configuration the controller plans from, and the barrier plan.
 * Pure: the agents and the controller derive the same cluster from the same few numbers.
 */
import type { ActionRequest } from '@entropy/protocol';
import type { Configuration, FeasiblePlan, PlannedAction, VM } from '@entropy/engine';

/** About the density of the generated instances (10 VMs per node); each vjob has one VM per node. */
export const VMS_PER_NODE = 10;
export const NODE_CAPACITY = { cpu: 64, mem: 256 * 1024 } as const;
export const VM_DEMAND = { cpu: 1, mem: 512 } as const;

export const nodeIds = (n: number): string[] => Array.from({ length: n }, (_, i) => `n${String(i).padStart(3, '0')}`);
export const vjobId = (k: number) => `j${k}`;
export const vmId = (k: number, node: string) => `v${k}-${node}`;

/** What the sim driver of `node` holds at start: VMS_PER_NODE running VMs, one of each vjob. */
export function vmsOfNode(
  node: string,
): { id: string; vjob: string; state: 'running'; demand: { cpu: number; mem: number } }[] {
  return Array.from({ length: VMS_PER_NODE }, (_, k) => ({
    id: vmId(k, node),
    vjob: vjobId(k),
    state: 'running',
    demand: { ...VM_DEMAND },
  }));
}

export function benchConfiguration(nodes: readonly string[]): Configuration {
  const vms: VM[] = nodes.flatMap((node) => vmsOfNode(node).map((v) => ({ ...v, host: node })));
  const vjobs = Array.from({ length: VMS_PER_NODE }, (_, k) => ({
    id: vjobId(k),
    vms: nodes.map((node) => vmId(k, node)),
    priority: 0,
    submittedAt: 0,
  }));
  return { nodes: nodes.map((id) => ({ id, capacity: { ...NODE_CAPACITY }, state: 'online' as const })), vms, vjobs };
}

/** Step `s` pauses (even s) or unpauses (odd s) vjob s/2: one action per node, all of a vjob together. */
export function stepAction(s: number): { readonly type: 'pause' | 'unpause'; readonly vjob: number } {
  return { type: s % 2 === 0 ? 'pause' : 'unpause', vjob: Math.floor(s / 2) % VMS_PER_NODE };
}

/**
 * `steps` steps of one zero-duration action per node: vjob k is paused in step 2k and unpaused in
 * step 2k + 1, so every VM ends running, as the decision (empty) wants, and the verifier accepts it.
 */
export function barrierPlan(nodes: readonly string[], steps: number): FeasiblePlan {
  if (steps % 2 !== 0 || steps / 2 > VMS_PER_NODE)
    throw new RangeError(`steps must be even and at most ${2 * VMS_PER_NODE}, got ${steps}`);
  const actions: PlannedAction[] = [];
  for (let s = 0; s < steps; s++) {
    const { type, vjob } = stepAction(s);
    for (const node of nodes)
      actions.push({
        id: `a${s}-${node}`,
        type,
        vm: vmId(vjob, node),
        vjob: vjobId(vjob),
        from: node,
        start: s,
        end: s,
        step: s,
        dependsOn: type === 'unpause' ? [`a${s - 1}-${node}`] : [],
      });
  }
  const target = Object.fromEntries(
    nodes.flatMap((node) => vmsOfNode(node).map((v) => [v.id, { state: 'running' as const, host: node }])),
  );
  return {
    feasible: true,
    actions,
    steps,
    makespan: steps - 1,
    sumCompletion: actions.reduce((t, a) => t + a.end, 0),
    solveMs: 0,
    target,
  };
}

/** The request the executor would send for step `s` on `node`, for the bare barrier without executor. */
export function rawRequest(planId: string, s: number, node: string): ActionRequest {
  const { type, vjob } = stepAction(s);
  return {
    actionId: `${planId}:a${s}-${node}`,
    planId,
    type,
    vm: vmId(vjob, node),
    vjob: vjobId(vjob),
    demand: { ...VM_DEMAND },
    from: node,
    estimatedMs: 0,
    timeoutMs: 5000,
  };
}
