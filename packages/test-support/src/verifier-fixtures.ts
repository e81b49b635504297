import type { ActionType, Configuration, FeasiblePlan, Node, PlannedAction, VM, VMState } from '@entropy/engine';

/** Small builders for hand-written configurations and plans in the verifier's tests. */

export function node(id: string, cpu = 2, mem = 4096, state: Node['state'] = 'online'): Node {
  return { id, capacity: { cpu, mem }, state };
}

export function vm(id: string, vjob: string, state: VMState, host?: string, cpu = 1, mem = 1024): VM {
  return { id, vjob, state, host, demand: { cpu, mem } };
}

export function configuration(nodes: readonly Node[], vms: readonly VM[]): Configuration {
  const members = new Map<string, string[]>();
  for (const v of vms) members.set(v.vjob, [...(members.get(v.vjob) ?? []), v.id]);
  return { nodes, vms, vjobs: [...members].map(([id, ids]) => ({ id, vms: ids, priority: 0, submittedAt: 0 })) };
}

export interface ActionSpec {
  readonly from?: string;
  readonly to?: string;
  readonly start: number;
  readonly end: number;
  readonly step?: number;
  readonly dependsOn?: string[];
}

/** An action on a VM of `config`; its vjob is the VM's. */
export function action(
  config: Configuration,
  id: string,
  type: ActionType,
  vmId: string,
  spec: ActionSpec,
): PlannedAction {
  const v = config.vms.find((x) => x.id === vmId);
  return { id, type, vm: vmId, vjob: v?.vjob ?? 'unknown', step: 0, dependsOn: [], ...spec };
}

export function plan(actions: PlannedAction[], target?: FeasiblePlan['target']): FeasiblePlan {
  const steps = actions.reduce((m, a) => Math.max(m, a.step + 1), 0);
  const makespan = actions.reduce((m, a) => Math.max(m, a.end), 0);
  const sumCompletion = actions.reduce((s, a) => s + a.end, 0);
  return {
    feasible: true,
    actions,
    steps,
    makespan,
    sumCompletion,
    solveMs: 0,
    target: target as FeasiblePlan['target'],
  };
}

/**
 * A plan that exercises every action type and passes: vjob j1 (v1, v2 on n1) is suspended,
 * j2 (v3, image on n2) resumed in place, v4 migrates n1 -> n3, v5 (j4) boots on n2.
 */
export function referenceCase() {
  const config = configuration(
    [node('n1'), node('n2'), node('n3')],
    [
      vm('v1', 'j1', 'running', 'n1'),
      vm('v2', 'j1', 'running', 'n1'),
      vm('v3', 'j2', 'sleeping', 'n2'),
      vm('v4', 'j3', 'running', 'n1'),
      vm('v5', 'j4', 'waiting'),
    ],
  );
  const decision = { j1: 'sleeping', j2: 'running', j4: 'running' } as const;
  const a = (id: string, type: ActionType, vmId: string, spec: ActionSpec) => action(config, id, type, vmId, spec);
  const actions = [
    a('p1', 'pause', 'v1', { from: 'n1', start: 0, end: 10, step: 0 }),
    a('p2', 'pause', 'v2', { from: 'n1', start: 0, end: 10, step: 0 }),
    a('s1', 'suspend', 'v1', { from: 'n1', start: 10, end: 1034, step: 1, dependsOn: ['p1', 'p2'] }),
    a('s2', 'suspend', 'v2', { from: 'n1', start: 10, end: 1034, step: 1, dependsOn: ['p1', 'p2'] }),
    a('m4', 'migrate', 'v4', { from: 'n1', to: 'n3', start: 0, end: 1024, step: 0 }),
    a('r3', 'resume', 'v3', { from: 'n2', to: 'n2', start: 0, end: 1024, step: 0 }),
    a('u3', 'unpause', 'v3', { from: 'n2', start: 1024, end: 1034, step: 1, dependsOn: ['r3'] }),
    a('b5', 'run', 'v5', { to: 'n2', start: 0, end: 5000, step: 0 }),
  ];
  const target = {
    v1: { state: 'sleeping', host: 'n1' },
    v2: { state: 'sleeping', host: 'n1' },
    v3: { state: 'running', host: 'n2' },
    v4: { state: 'running', host: 'n3' },
    v5: { state: 'running', host: 'n2' },
  } as const;
  return { config, decision, actions, target, plan: plan(actions, target) };
}

/** Replaces the action with the given id (or removes it when `patch` is null). */
export function edit(
  actions: readonly PlannedAction[],
  id: string,
  patch: Partial<PlannedAction> | null,
): PlannedAction[] {
  return actions.flatMap((a) => (a.id !== id ? [a] : patch === null ? [] : [{ ...a, ...patch }]));
}
