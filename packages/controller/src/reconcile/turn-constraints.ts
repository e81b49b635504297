import {
  buildPlanView,
  checkConstraints,
  type Configuration,
  type Constraint,
  type ConstraintJson,
  holdsResources,
  resolveConstraint,
  type VM,
} from '@entropy/engine';
import type { StoredVJob } from '../queue/queue-store.ts';

/**
 * The placement constraints of one control-loop turn: the controller's `--constraints` file, every
 * live vjob's own (from its vjob file), and the drained nodes (`entropy node drain`). The file's are
 * resolved against the cluster as the monitor sees it, each turn: one that names a VM or a vjob
 * the cluster does not have (or no longer has) is skipped for the turn, with a reason.
 */
export interface TurnConstraints {
  /** The file's and the vjobs': every plan the controller executes keeps them. */
  readonly hard: readonly Constraint[];
  /** One `runningCapacity({node}, 0)` per drained node: put off (with a reason) when no plan keeps them. */
  readonly drains: readonly Constraint[];
  readonly reasons: readonly string[];
}

export const NO_TURN_CONSTRAINTS: TurnConstraints = { hard: [], drains: [], reasons: [] };

/**
 * A drain is one discrete `runningCapacity({node}, 0)` rather than a ban of every VM: it holds for
 * VMs submitted after it without being rebuilt, costs one constraint whatever the cluster's size,
 * and leaves the node's sleeping images where they are (they resume elsewhere).
 */
export const drainOf = (node: string): Constraint => ({
  type: 'runningCapacity',
  nodes: [node],
  amount: 0,
  continuous: false,
});

export function turnConstraints(
  cluster: Configuration,
  vjobs: readonly StoredVJob[],
  file: readonly ConstraintJson[] = [],
  drained: readonly string[] = [],
): TurnConstraints {
  if (file.length === 0 && drained.length === 0 && !vjobs.some((v) => v.constraints?.length))
    return NO_TURN_CONSTRAINTS;
  const hard: Constraint[] = [];
  const reasons: string[] = [];
  if (file.length > 0) {
    const vmIds = new Set(cluster.vms.map((v) => v.id));
    const vmsOf = new Map(cluster.vjobs.map((j) => [j.id, j.vms]));
    const scope = {
      where: 'the cluster',
      hasVm: (id: string) => vmIds.has(id),
      vmsOfVjob: (id: string) => vmsOf.get(id),
    };
    file.forEach((spec, i) => {
      const r = resolveConstraint(spec, scope, ['constraints', i]);
      if (r.issues.length === 0) hard.push(...r.constraints);
      else reasons.push(`constraints file: ${r.issues[0]!.path} skipped this turn: ${r.issues[0]!.reason}`);
    });
  }
  for (const v of vjobs)
    if (v.constraints?.length && v.state !== 'terminated' && v.cancelRequestedAt === undefined)
      hard.push(...v.constraints);
  const nodes = new Set(cluster.nodes.map((n) => n.id));
  return { hard, drains: drained.filter((n) => nodes.has(n)).map(drainOf), reasons };
}

/**
 * The constraints as the engine can take them on the turn's planned configuration, which lacks the
 * VMs of held vjobs (their room still taken): ids it does not have are dropped, and what the
 * missing VMs hold is carried over. A spread's planned VMs avoid the nodes its held VMs run on, a
 * gather's go to the node they run on, and a capacity over nodes is lowered by what held VMs use
 * there. A constraint left with nothing to say is dropped.
 */
export function fitConstraints(
  constraints: readonly Constraint[],
  cluster: Configuration,
  planned: Configuration,
): Constraint[] {
  if (constraints.length === 0) return [];
  const present = new Set(planned.vms.map((v) => v.id));
  const nodes = new Set(planned.nodes.map((n) => n.id));
  const complete = present.size === cluster.vms.length && nodes.size === cluster.nodes.length;
  if (complete) return [...constraints];
  const vmById = new Map(cluster.vms.map((v) => [v.id, v]));
  /** The VMs of `ids` left out of planning that hold room on a node. */
  const heldRunning = (ids: readonly string[]): VM[] =>
    ids.flatMap((id) => {
      const vm = vmById.get(id);
      return vm && !present.has(id) && vm.host !== undefined && holdsResources(vm.state) ? [vm] : [];
    });
  const keepVms = (ids: readonly string[]) => ids.filter((id) => present.has(id));
  const keepNodes = (ids: readonly string[]) => ids.filter((id) => nodes.has(id));
  const keepParts = (parts: readonly (readonly string[])[], keep: (ids: readonly string[]) => string[]) =>
    parts.map(keep).filter((p) => p.length > 0);
  const heldOn = (nodeIds: readonly string[], weight: (vm: VM) => number) => {
    const set = new Set(nodeIds);
    let sum = 0;
    for (const vm of cluster.vms)
      if (!present.has(vm.id) && vm.host !== undefined && set.has(vm.host) && holdsResources(vm.state))
        sum += weight(vm);
    return sum;
  };

  const out: Constraint[] = [];
  for (const c of constraints) {
    // A constraint on one node, or on one VM and no nodes: kept when its id is planned.
    if ('node' in c) {
      if (nodes.has(c.node)) out.push(c);
      continue;
    }
    if ('vm' in c && !('nodes' in c)) {
      if (present.has(c.vm)) out.push(c);
      continue;
    }
    switch (c.type) {
      case 'ban': {
        const banned = keepNodes(c.nodes);
        if (present.has(c.vm) && banned.length > 0) out.push({ ...c, nodes: banned });
        break;
      }
      case 'fence':
        if (present.has(c.vm)) out.push({ ...c, nodes: keepNodes(c.nodes) });
        break;
      case 'spread': {
        const vms = keepVms(c.vms);
        const taken = keepNodes([...new Set(heldRunning(c.vms).map((vm) => vm.host!))]);
        if (vms.length > 1) out.push({ ...c, vms });
        if (taken.length > 0)
          for (const vm of vms) out.push({ type: 'ban', vm, nodes: taken, continuous: c.continuous });
        break;
      }
      case 'gather': {
        const vms = keepVms(c.vms);
        const at = heldRunning(c.vms)[0]?.host;
        if (vms.length > 1) out.push({ ...c, vms });
        if (at !== undefined && nodes.has(at))
          for (const vm of vms) out.push({ type: 'fence', vm, nodes: [at], continuous: c.continuous });
        break;
      }
      case 'lonely': {
        const vms = keepVms(c.vms);
        if (vms.length > 0) out.push({ ...c, vms });
        break;
      }
      case 'among': {
        const vms = keepVms(c.vms);
        const parts = keepParts(c.parts, keepNodes);
        if (vms.length > 0 && parts.length > 0) out.push({ ...c, vms, parts });
        break;
      }
      case 'split': {
        const parts = keepParts(c.parts, keepVms);
        if (parts.length > 1) out.push({ ...c, parts });
        break;
      }
      case 'splitAmong': {
        const vParts = keepParts(c.vParts, keepVms);
        const pParts = keepParts(c.pParts, keepNodes);
        if (vParts.length > 0 && pParts.length > 0) out.push({ ...c, vParts, pParts });
        break;
      }
      case 'runningCapacity':
      case 'maxOnline':
      case 'resourceCapacity': {
        const kept = keepNodes(c.nodes);
        if (kept.length === 0) break;
        if (c.type === 'maxOnline') out.push({ ...c, nodes: kept });
        else {
          const held = heldOn(c.nodes, c.type === 'runningCapacity' ? () => 1 : (vm) => vm.demand[c.rc] ?? 0);
          out.push({ ...c, nodes: kept, amount: Math.max(0, c.amount - held) });
        }
        break;
      }
    }
  }
  return out;
}

/**
 * True when the configuration as it is breaks one of the constraints: the turn must plan even if
 * nothing else changes. Each is checked as discrete (on the configuration as it stands): a
 * continuous check tolerates what holds from the start, and a plan would keep it so.
 */
export function brokenNow(configuration: Configuration, constraints: readonly Constraint[]): boolean {
  if (constraints.length === 0) return false;
  const discrete = constraints.map((c) => ('continuous' in c && c.continuous ? { ...c, continuous: false } : c));
  return checkConstraints(buildPlanView(configuration, []), discrete) !== undefined;
}

/**
 * What is left of drains that no plan keeps: nothing new arrives on the drained nodes, and the VMs
 * running there stay or leave as the plan likes. One ban per planned VM not already on them.
 */
export function drainHolds(drains: readonly Constraint[], configuration: Configuration): Constraint[] {
  const drained = drains.flatMap((c) => (c.type === 'runningCapacity' ? c.nodes : []));
  if (drained.length === 0) return [];
  const out: Constraint[] = [];
  for (const vm of configuration.vms) {
    const on = vm.host !== undefined && holdsResources(vm.state) ? vm.host : undefined;
    const nodes = on === undefined ? drained : drained.filter((n) => n !== on);
    if (nodes.length > 0) out.push({ type: 'ban', vm: vm.id, nodes, continuous: false });
  }
  return out;
}

/** Why the turn's soft constraints (node power changes, drains) were left out of its plan. */
export function putOffReason(soft: readonly Constraint[], why: string | undefined): string {
  const power = soft.filter((c) => c.type === 'online' || c.type === 'offline');
  const drains = soft.filter((c) => c.type === 'runningCapacity');
  const parts: string[] = [];
  if (power.length > 0)
    parts.push(
      `node power change put off: ${power.map((c) => `${c.type === 'online' ? 'boot' : 'shutdown'} ${(c as { node: string }).node}`).join(', ')}`,
    );
  if (drains.length > 0)
    parts.push(
      `drain put off: ${drains.map((c) => (c as { nodes: readonly string[] }).nodes[0]).join(', ')} keep their VMs`,
    );
  return `${parts.join('; ')}: ${why ?? 'no plan keeps it'}`;
}
