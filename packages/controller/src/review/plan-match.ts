import type { Configuration, NodeAction, PlannedAction, Resources } from '@entropy/engine';

/** The parts of a plan the match looks at: its actions on VMs and nodes. */
export interface PlanActions {
  readonly actions: readonly PlannedAction[];
  readonly nodeActions?: readonly NodeAction[];
}

/** The VMs a plan acts on, and the nodes its actions leave, reach or power. */
export function touchedBy(plan: PlanActions): {
  readonly vms: ReadonlySet<string>;
  readonly nodes: ReadonlySet<string>;
} {
  const vms = new Set<string>();
  const nodes = new Set<string>();
  for (const a of plan.actions) {
    vms.add(a.vm);
    if (a.from !== undefined) nodes.add(a.from);
    if (a.to !== undefined) nodes.add(a.to);
  }
  for (const a of plan.nodeActions ?? []) nodes.add(a.node);
  return { vms, nodes };
}

const where = (vm: { readonly state: string; readonly host?: string } | undefined) =>
  vm === undefined ? 'absent' : `${vm.state}${vm.host !== undefined ? ` on ${vm.host}` : ''}`;

const resources = (r: Resources) =>
  Object.keys(r)
    .sort()
    .map((k) => `${k}=${r[k]}`)
    .join(',');

/**
 * The first difference between the configuration a plan was computed from and the live one, for
 * what the plan relies on: each VM it acts on (state and host; its demand too, which the plan's
 * room was counted with), and each node it uses (online, capacity). Undefined when they match.
 * VMs and nodes the plan does not touch may differ: the verifier, run on the live configuration
 * afterwards, says whether the plan still fits around them.
 */
export function firstDifference(saved: Configuration, live: Configuration, plan: PlanActions): string | undefined {
  const { vms, nodes } = touchedBy(plan);
  const liveVm = new Map(live.vms.map((v) => [v.id, v]));
  const savedVm = new Map(saved.vms.map((v) => [v.id, v]));
  for (const id of [...vms].sort()) {
    const was = savedVm.get(id);
    const now = liveVm.get(id);
    if (was === undefined) return `vm ${id}: the plan acts on it but its saved configuration does not have it`;
    if (now === undefined || now.state !== was.state || now.host !== was.host)
      return `vm ${id}: saved ${where(was)}, now ${where(now)}`;
    if (resources(now.demand) !== resources(was.demand))
      return `vm ${id}: saved demand ${resources(was.demand)}, now ${resources(now.demand)}`;
  }
  const liveNode = new Map(live.nodes.map((n) => [n.id, n]));
  const savedNode = new Map(saved.nodes.map((n) => [n.id, n]));
  for (const id of [...nodes].sort()) {
    const was = savedNode.get(id);
    const now = liveNode.get(id);
    if (was === undefined) return `node ${id}: the plan uses it but its saved configuration does not have it`;
    if (now === undefined) return `node ${id}: saved ${was.state}, now unknown to the controller`;
    if (now.state !== was.state) return `node ${id}: saved ${was.state}, now ${now.state}`;
    if (resources(now.capacity) !== resources(was.capacity))
      return `node ${id}: saved capacity ${resources(was.capacity)}, now ${resources(now.capacity)}`;
  }
  return undefined;
}
