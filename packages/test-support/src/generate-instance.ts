import {
  type Configuration,
  COST_KINDS,
  type CostModel,
  type Decision,
  DEFAULT_COST_MODEL,
  type Instance,
  type InstanceJson,
  mulberry32,
  type Node,
  type Rng,
  type VJob,
  type VJobState,
  type VM,
} from '@entropy/engine';

export { arbitraryInstance, type ArbitraryInstanceOptions } from './arbitrary-instance.ts';
export { mulberry32, type Rng } from '@entropy/engine';

/** One kind of node in a heterogeneous cluster; `weight` is its relative frequency. */
export interface NodeClass {
  readonly cpu: number;
  readonly mem: number;
  readonly weight: number;
}

export interface GenerateOptions {
  readonly seed: number;
  readonly nodes: number;
  readonly vms: number;
  /** VMs per vjob, both bounds included; the last vjob may be smaller so that the total is exact. */
  readonly vjobSize: { readonly min: number; readonly max: number };
  /** Fraction of the cluster's capacity, in its most used dimension, that running VMs use in the source. */
  readonly load: number;
  /** Fraction of the vjobs whose wanted state differs from their current one. */
  readonly changeFraction: number;
  /** Nodes whose running VMs exceed their capacity in the source: the context switch must repair them. */
  readonly overloadedNodes: number;
  /** Ceiling on the load the decision asks for, so that the wanted running VMs fit with margin. */
  readonly maxTargetLoad: number;
  readonly nodeClasses: readonly NodeClass[];
  readonly costModel: CostModel;
}

export const DEFAULT_NODE_CLASSES: readonly NodeClass[] = [
  { cpu: 8, mem: 16 * 1024, weight: 3 },
  { cpu: 16, mem: 32 * 1024, weight: 5 },
  { cpu: 32, mem: 64 * 1024, weight: 2 },
];

export const DEFAULT_GENERATE_OPTIONS: GenerateOptions = {
  seed: 1,
  nodes: 100,
  vms: 1000,
  vjobSize: { min: 1, max: 8 },
  load: 0.75,
  changeFraction: 0.1,
  overloadedNodes: 3,
  maxTargetLoad: 0.88,
  nodeClasses: DEFAULT_NODE_CLASSES,
  costModel: DEFAULT_COST_MODEL,
};

// Mostly small VMs, as in a batch cluster: half use one core, a third use 1 GiB.
const VM_CPU = [1, 2, 3, 4];
const VM_CPU_WEIGHTS = [50, 30, 10, 10];
const VM_MEM = [512, 1024, 2048, 4096, 8192];
const VM_MEM_WEIGHTS = [25, 35, 20, 12, 8];
const IDLE_STATES: readonly VJobState[] = ['sleeping', 'waiting', 'terminated'];
const IDLE_WEIGHTS = [45, 45, 10];
/** Share of the vjobs kept out of the source's running set, so that a decision can start some. */
const IDLE_RESERVE = 0.15;

export type ChangeKind = 'running->sleeping' | 'running->terminated' | 'sleeping->running' | 'waiting->running';
const CHANGE_SHARES: Readonly<Record<ChangeKind, number>> = {
  'running->sleeping': 0.3,
  'running->terminated': 0.2,
  'sleeping->running': 0.25,
  'waiting->running': 0.25,
};

export interface InstanceStats {
  /** Used over capacity of running VMs in the source, in the most used dimension. */
  readonly sourceLoad: number;
  /** The same for the VMs the decision wants running. */
  readonly targetLoad: number;
  readonly overloadedNodes: readonly string[];
  readonly changes: Readonly<Record<ChangeKind, number>>;
}

export interface GeneratedInstance extends Instance {
  readonly stats: InstanceStats;
}

interface Draft {
  readonly id: string;
  readonly vjob: number;
  readonly cpu: number;
  readonly mem: number;
  state: VJobState;
  host: number;
}

/**
 * A random instance, the same for the same options on every machine: heterogeneous nodes, vjobs of
 * mostly small VMs, running VMs packed up to `load` (plus a few overloaded nodes), and a decision that
 * changes about `changeFraction` of the vjobs while keeping the wanted load under `maxTargetLoad`.
 */
export function generateInstance(options: Partial<GenerateOptions> = {}): GeneratedInstance {
  const o = { ...DEFAULT_GENERATE_OPTIONS, ...options };
  checkOptions(o);
  const rng = mulberry32(o.seed);

  const nodeId = idMaker('n', o.nodes);
  const classes = o.nodeClasses;
  const nodeCap = Array.from({ length: o.nodes }, () =>
    rng.weighted(
      classes,
      classes.map((c) => c.weight),
    ),
  );
  const cap = { cpu: sum(nodeCap.map((c) => c.cpu)), mem: sum(nodeCap.map((c) => c.mem)) };
  const used = nodeCap.map(() => ({ cpu: 0, mem: 0 }));

  const vmId = idMaker('v', o.vms);
  const vjobVms: number[][] = [];
  const drafts: Draft[] = [];
  while (drafts.length < o.vms) {
    const size = Math.min(o.vms - drafts.length, rng.int(o.vjobSize.min, o.vjobSize.max));
    const j = vjobVms.length;
    const own: number[] = [];
    for (let k = 0; k < size; k++) {
      own.push(drafts.length);
      const cpu = rng.weighted(VM_CPU, VM_CPU_WEIGHTS);
      const mem = rng.weighted(VM_MEM, VM_MEM_WEIGHTS);
      drafts.push({ id: vmId(drafts.length), vjob: j, cpu, mem, state: 'waiting', host: -1 });
    }
    vjobVms.push(own);
  }
  const vjobId = idMaker('j', vjobVms.length);
  const demandOf = (j: number) => ({
    cpu: sum(vjobVms[j]!.map((v) => drafts[v]!.cpu)),
    mem: sum(vjobVms[j]!.map((v) => drafts[v]!.mem)),
  });

  const fits = (n: number, d: Draft) =>
    used[n]!.cpu + d.cpu <= nodeCap[n]!.cpu && used[n]!.mem + d.mem <= nodeCap[n]!.mem;
  const place = (d: Draft, n: number) => {
    d.host = n;
    used[n]!.cpu += d.cpu;
    used[n]!.mem += d.mem;
  };
  const unplace = (d: Draft) => {
    used[d.host]!.cpu -= d.cpu;
    used[d.host]!.mem -= d.mem;
    d.host = -1;
  };
  // A few random probes, then a scan from a random node: cheap while the cluster has room.
  const findNode = (d: Draft): number => {
    for (let probe = 0; probe < 8; probe++) {
      const n = rng.int(0, o.nodes - 1);
      if (fits(n, d)) return n;
    }
    const start = rng.int(0, o.nodes - 1);
    for (let k = 0; k < o.nodes; k++) if (fits((start + k) % o.nodes, d)) return (start + k) % o.nodes;
    return -1;
  };

  const order = rng.shuffle(vjobVms.map((_, j) => j));
  const reserved = Math.ceil(order.length * IDLE_RESERVE);
  const running = { cpu: 0, mem: 0 };
  const vjobState: VJobState[] = vjobVms.map(() => 'waiting');
  order.forEach((j, rank) => {
    const need = demandOf(j);
    const underLoad = running.cpu + need.cpu <= o.load * cap.cpu && running.mem + need.mem <= o.load * cap.mem;
    if (rank >= reserved && underLoad && placeAll(vjobVms[j]!.map((v) => drafts[v]!))) {
      vjobState[j] = 'running';
      running.cpu += need.cpu;
      running.mem += need.mem;
    } else vjobState[j] = rng.weighted(IDLE_STATES, IDLE_WEIGHTS);
  });
  function placeAll(vms: Draft[]): boolean {
    for (const d of vms) {
      const n = findNode(d);
      if (n < 0) {
        for (const p of vms) if (p.host >= 0) unplace(p);
        return false;
      }
      place(d, n);
    }
    return true;
  }
  vjobVms.forEach((own, j) => {
    for (const v of own) {
      const d = drafts[v]!;
      d.state = vjobState[j]!;
      if (d.state === 'sleeping') d.host = rng.int(0, o.nodes - 1);
    }
  });

  const overloaded = overload(rng, o.overloadedNodes, nodeCap, used, drafts);
  const { decision, changes } = decide(rng, o, vjobState, demandOf, cap, running);
  const target = { ...running };
  for (const [j, wanted] of decision) {
    const sign = wanted === 'running' ? 1 : -1;
    const need = demandOf(j);
    target.cpu += sign * need.cpu;
    target.mem += sign * need.mem;
  }

  const nodes: Node[] = nodeCap.map((c, i) => ({
    id: nodeId(i),
    capacity: { cpu: c.cpu, mem: c.mem },
    state: 'online',
  }));
  const vms: VM[] = drafts.map((d) => ({
    id: d.id,
    vjob: vjobId(d.vjob),
    demand: { cpu: d.cpu, mem: d.mem },
    state: d.state,
    ...(d.host >= 0 ? { host: nodes[d.host]!.id } : {}),
  }));
  const vjobs: VJob[] = vjobVms.map((own, j) => ({
    id: vjobId(j),
    vms: own.map((v) => drafts[v]!.id),
    priority: rng.int(0, 9),
    submittedAt: j * 1000 + rng.int(0, 999),
  }));
  const configuration: Configuration = { nodes, vms, vjobs };
  const decisionById: Decision = Object.fromEntries([...decision].map(([j, s]) => [vjobId(j), s]));
  const loadOf = (u: { cpu: number; mem: number }) => Math.max(u.cpu / cap.cpu, u.mem / cap.mem);
  return {
    configuration,
    decision: decisionById,
    costModel: o.costModel,
    stats: {
      sourceLoad: loadOf(running),
      targetLoad: loadOf(target),
      overloadedNodes: overloaded.map((n) => nodes[n]!.id),
      changes,
    },
  };
}

/**
 * Moves running VMs onto `count` nodes until each exceeds its CPU capacity by 10-30%. The total
 * load is unchanged, so the overload is repairable whenever the source load leaves room.
 */
function overload(
  rng: Rng,
  count: number,
  nodeCap: readonly { cpu: number; mem: number }[],
  used: { cpu: number; mem: number }[],
  drafts: Draft[],
): number[] {
  const chosen = rng.shuffle(nodeCap.map((_, n) => n)).slice(0, Math.min(count, nodeCap.length));
  const isChosen = new Set(chosen);
  const movable = rng.shuffle(drafts.filter((d) => d.state === 'running' && !isChosen.has(d.host)));
  const overloaded: number[] = [];
  for (const n of chosen) {
    const goal = nodeCap[n]!.cpu * (1.1 + 0.2 * rng.next());
    while (used[n]!.cpu <= goal && movable.length > 0) {
      const d = movable.pop()!;
      used[d.host]!.cpu -= d.cpu;
      used[d.host]!.mem -= d.mem;
      d.host = n;
      used[n]!.cpu += d.cpu;
      used[n]!.mem += d.mem;
    }
    if (used[n]!.cpu > nodeCap[n]!.cpu) overloaded.push(n);
  }
  return overloaded.sort((a, b) => a - b);
}

/** Stops first, then starts while the wanted load stays under `maxTargetLoad`. */
function decide(
  rng: Rng,
  o: GenerateOptions,
  vjobState: readonly VJobState[],
  demandOf: (j: number) => { cpu: number; mem: number },
  cap: { cpu: number; mem: number },
  running: { cpu: number; mem: number },
) {
  const total = Math.round(o.changeFraction * vjobState.length);
  const byState = (s: VJobState) => rng.shuffle(vjobState.flatMap((st, j) => (st === s ? [j] : [])));
  const runningVjobs = byState('running');
  const pools: Record<ChangeKind, number[]> = {
    'running->sleeping': runningVjobs,
    'running->terminated': runningVjobs,
    'sleeping->running': byState('sleeping'),
    'waiting->running': byState('waiting'),
  };
  const decision = new Map<number, VJobState>();
  const changes: Record<ChangeKind, number> = {
    'running->sleeping': 0,
    'running->terminated': 0,
    'sleeping->running': 0,
    'waiting->running': 0,
  };
  const target = { ...running };
  for (const kind of Object.keys(CHANGE_SHARES) as ChangeKind[]) {
    const wanted = Math.round(total * CHANGE_SHARES[kind]);
    const to = kind.split('->')[1] as VJobState;
    const pool = pools[kind];
    while (changes[kind] < wanted && pool.length > 0) {
      const j = pool.pop()!;
      const need = demandOf(j);
      const sign = to === 'running' ? 1 : -1;
      const next = { cpu: target.cpu + sign * need.cpu, mem: target.mem + sign * need.mem };
      if (to === 'running' && (next.cpu > o.maxTargetLoad * cap.cpu || next.mem > o.maxTargetLoad * cap.mem)) continue;
      decision.set(j, to);
      target.cpu = next.cpu;
      target.mem = next.mem;
      changes[kind]++;
    }
  }
  return { decision, changes };
}

/** The instance file (DESIGN.md, "Instance file") of an instance: what `entropy plan` reads back. */
export function toInstanceJson(instance: Instance): InstanceJson {
  const { nodes, vms, vjobs } = instance.configuration;
  const split = (r: Readonly<Record<string, number>>) => {
    const { cpu = 0, mem = 0, ...extra } = r;
    return { cpu, mem, ...(Object.keys(extra).length > 0 ? { resources: extra } : {}) };
  };
  return {
    nodes: nodes.map((n) => {
      const { cpu, mem, resources } = split(n.capacity);
      return { id: n.id, cpu, mem, state: n.state, ...(resources ? { resources } : {}) };
    }),
    vms: vms.map((v) => {
      const { cpu, mem, resources } = split(v.demand);
      return {
        id: v.id,
        vjob: v.vjob,
        cpu,
        mem,
        state: v.state,
        ...(v.host !== undefined ? { host: v.host } : {}),
        ...(resources ? { resources } : {}),
      };
    }),
    vjobs: vjobs.map((j) => ({ id: j.id, priority: j.priority, submittedAt: j.submittedAt })),
    decision: { ...instance.decision },
    costModel: Object.fromEntries(COST_KINDS.map((k) => [k, { ...instance.costModel[k] }])),
  };
}

/** `generateInstance` written as an instance file. */
export function generateInstanceJson(options: Partial<GenerateOptions> = {}): InstanceJson {
  return toInstanceJson(generateInstance(options));
}

function checkOptions(o: GenerateOptions): void {
  const fail = (field: string, why: string) => {
    throw new RangeError(`generateInstance: option '${field}' ${why}`);
  };
  if (!Number.isInteger(o.nodes) || o.nodes < 1) fail('nodes', 'must be a positive integer');
  if (!Number.isInteger(o.vms) || o.vms < 0) fail('vms', 'must be a non-negative integer');
  if (!Number.isInteger(o.vjobSize.min) || o.vjobSize.min < 1 || o.vjobSize.max < o.vjobSize.min)
    fail('vjobSize', 'must satisfy 1 <= min <= max (integers)');
  for (const f of ['load', 'changeFraction', 'maxTargetLoad'] as const)
    if (!(o[f] >= 0 && o[f] <= 1)) fail(f, 'must be between 0 and 1');
  if (!Number.isInteger(o.overloadedNodes) || o.overloadedNodes < 0)
    fail('overloadedNodes', 'must be a non-negative integer');
  if (o.nodeClasses.length === 0) fail('nodeClasses', 'must name at least one class');
}

const sum = (xs: readonly number[]) => xs.reduce((s, x) => s + x, 0);

/** Ids padded to the width of the largest, so that they sort in creation order: n001 ... n100. */
function idMaker(prefix: string, count: number): (i: number) => string {
  const width = String(Math.max(1, count)).length;
  return (i) => `${prefix}${String(i + 1).padStart(width, '0')}`;
}
