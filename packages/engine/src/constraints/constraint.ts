/**
 * Placement constraints, as data. Each one is BtrPlace's constraint of the same name, over Entropy's
 * ids (VM and node ids of the configuration). A *continuous* constraint holds at every instant of the
 * plan; a discrete one only in the final configuration. Constraints that BtrPlace defines as always
 * continuous (root, quarantine) or always discrete (state constraints, preserve) have no flag.
 */

/** The node is online at the end of the plan (it boots if it is offline). */
export interface Online {
  readonly type: 'online';
  readonly node: string;
}
/** The node is offline at the end of the plan (it is evacuated, then shut down). */
export interface Offline {
  readonly type: 'offline';
  readonly node: string;
}
/** The VM runs at the end of the plan. */
export interface Running {
  readonly type: 'running';
  readonly vm: string;
}
/** The VM is ready (waiting, or stopped) at the end of the plan. */
export interface Ready {
  readonly type: 'ready';
  readonly vm: string;
}
/** The VM is sleeping at the end of the plan. */
export interface Sleeping {
  readonly type: 'sleeping';
  readonly vm: string;
}
/** The VM is gone (terminated) at the end of the plan. */
export interface Killed {
  readonly type: 'killed';
  readonly vm: string;
}
/** The VM gets at least `amount` of resource `rc` (its demand is raised to it if lower). */
export interface Preserve {
  readonly type: 'preserve';
  readonly vm: string;
  readonly rc: string;
  readonly amount: number;
}
/** No two of the VMs share a node. */
export interface Spread {
  readonly type: 'spread';
  readonly vms: readonly string[];
  readonly continuous: boolean;
}
/** The running VMs all sit in one of the groups of nodes (groups are disjoint). */
export interface Among {
  readonly type: 'among';
  readonly vms: readonly string[];
  readonly parts: readonly (readonly string[])[];
  readonly continuous: boolean;
}
/** VMs of different parts never share a node. */
export interface Split {
  readonly type: 'split';
  readonly parts: readonly (readonly string[])[];
  readonly continuous: boolean;
}
/** Each part of VMs sits in one group of nodes, and no two parts in the same group. */
export interface SplitAmong {
  readonly type: 'splitAmong';
  readonly vParts: readonly (readonly string[])[];
  readonly pParts: readonly (readonly string[])[];
  readonly continuous: boolean;
}
/** The running VMs all share one node. */
export interface Gather {
  readonly type: 'gather';
  readonly vms: readonly string[];
  readonly continuous: boolean;
}
/** The VM never runs on any of the nodes. */
export interface Ban {
  readonly type: 'ban';
  readonly vm: string;
  readonly nodes: readonly string[];
  readonly continuous: boolean;
}
/** The VM runs only on the nodes. */
export interface Fence {
  readonly type: 'fence';
  readonly vm: string;
  readonly nodes: readonly string[];
  readonly continuous: boolean;
}
/** The VMs share their nodes with no VM outside the set. */
export interface Lonely {
  readonly type: 'lonely';
  readonly vms: readonly string[];
  readonly continuous: boolean;
}
/** The VM is not migrated (always continuous). */
export interface Root {
  readonly type: 'root';
  readonly vm: string;
}
/** Nothing arrives on the node and its running VMs stay (always continuous). */
export interface Quarantine {
  readonly type: 'quarantine';
  readonly node: string;
}
/** The VMs running on the nodes use at most `amount` of `rc` in all. */
export interface ResourceCapacity {
  readonly type: 'resourceCapacity';
  readonly nodes: readonly string[];
  readonly rc: string;
  readonly amount: number;
  readonly continuous: boolean;
}
/** At most `amount` VMs run on the nodes in all. */
export interface RunningCapacity {
  readonly type: 'runningCapacity';
  readonly nodes: readonly string[];
  readonly amount: number;
  readonly continuous: boolean;
}
/** At most `amount` of the nodes are online. */
export interface MaxOnline {
  readonly type: 'maxOnline';
  readonly nodes: readonly string[];
  readonly amount: number;
  readonly continuous: boolean;
}
/** The node's capacity in `rc` is multiplied by `ratio` (>= 1). */
export interface Overbook {
  readonly type: 'overbook';
  readonly node: string;
  readonly rc: string;
  readonly ratio: number;
  readonly continuous: boolean;
}

export type Constraint =
  | Online
  | Offline
  | Running
  | Ready
  | Sleeping
  | Killed
  | Preserve
  | Spread
  | Among
  | Split
  | SplitAmong
  | Gather
  | Ban
  | Fence
  | Lonely
  | Root
  | Quarantine
  | ResourceCapacity
  | RunningCapacity
  | MaxOnline
  | Overbook;

export type ConstraintType = Constraint['type'];
export type ConstraintOf<T extends ConstraintType> = Extract<Constraint, { type: T }>;

/** Whether the constraint must hold at every instant of the plan, not only at its end. */
export function isContinuous(c: Constraint): boolean {
  if (c.type === 'root' || c.type === 'quarantine') return true;
  return 'continuous' in c ? c.continuous : false;
}

const flatCache = new WeakMap<readonly (readonly string[])[], readonly string[]>();

/** Parts flattened once per parts array: importers share one array among the constraints that repeat it. */
export function flatten(parts: readonly (readonly string[])[]): readonly string[] {
  let out = flatCache.get(parts);
  if (!out) flatCache.set(parts, (out = parts.flat()));
  return out;
}

/** The VM ids a constraint names. */
export function vmsOf(c: Constraint): readonly string[] {
  if ('vm' in c) return [c.vm];
  if ('vms' in c) return c.vms;
  if (c.type === 'split') return flatten(c.parts);
  if (c.type === 'splitAmong') return flatten(c.vParts);
  return [];
}

/** The node ids a constraint names. */
export function nodesOf(c: Constraint): readonly string[] {
  if ('node' in c) return [c.node];
  if ('nodes' in c) return c.nodes;
  if (c.type === 'among') return flatten(c.parts);
  if (c.type === 'splitAmong') return flatten(c.pParts);
  return [];
}

const list = (xs: readonly string[], max = 6) =>
  xs.length > max ? `${xs.slice(0, max).join(', ')}, ... (${xs.length})` : xs.join(', ');
const parts = (ps: readonly (readonly string[])[]) => ps.map((p) => `{${list(p, 4)}}`).join(', ');
const mode = (c: Constraint) => ('continuous' in c ? (c.continuous ? ', continuous' : ', discrete') : '');

/** A constraint as messages name it, close to BtrPlace's toString: `spread(vm1, vm2, continuous)`. */
export function describeConstraint(c: Constraint): string {
  switch (c.type) {
    case 'online':
    case 'offline':
    case 'quarantine':
      return `${c.type}(${c.node})`;
    case 'running':
    case 'ready':
    case 'sleeping':
    case 'killed':
    case 'root':
      return `${c.type}(${c.vm})`;
    case 'preserve':
      return `preserve(${c.vm}, ${c.rc} >= ${c.amount})`;
    case 'spread':
    case 'gather':
    case 'lonely':
      return `${c.type}(${list(c.vms)}${mode(c)})`;
    case 'among':
      return `among(${list(c.vms)} in one of ${parts(c.parts)}${mode(c)})`;
    case 'split':
      return `split(${parts(c.parts)}${mode(c)})`;
    case 'splitAmong':
      return `splitAmong(${parts(c.vParts)} among ${parts(c.pParts)}${mode(c)})`;
    case 'ban':
    case 'fence':
      return `${c.type}(${c.vm}, {${list(c.nodes)}}${mode(c)})`;
    case 'resourceCapacity':
      return `resourceCapacity({${list(c.nodes)}}, ${c.rc} <= ${c.amount}${mode(c)})`;
    case 'runningCapacity':
    case 'maxOnline':
      return `${c.type}({${list(c.nodes)}}, <= ${c.amount}${mode(c)})`;
    case 'overbook':
      return `overbook(${c.node}, ${c.rc} x ${c.ratio}${mode(c)})`;
  }
}
