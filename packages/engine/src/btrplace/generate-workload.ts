import { mulberry32, type Rng } from '../prng.ts';

/**
 * Instances of the workloads BtrPlace's authors published (TDSC'13, bench/src/test/resources),
 * generated from a seed, in BtrPlace's instance JSON: identical nodes (1600 memory, 200 uCpu), VMs
 * of clients (applications of 3 tiers), a fraction of the clients under continuous spread (per
 * tier) and among (per client, over 20 groups of nodes) constraints, and one of two events:
 * - `li`, load increase: `preserve` constraints raise the uCpu of a share of the VMs to their
 *   template's, which overloads some nodes;
 * - `nr`, node repair: a share of the nodes has failed (offline, with `offline` constraints), and
 *   their VMs are ready VMs that must run again (`running` constraints); the others stay online.
 * Used to check that nothing in the engine is tuned to the four shared instances.
 */
export interface WorkloadOptions {
  readonly scenario: 'li' | 'nr';
  readonly seed: number;
  readonly nodes: number;
  readonly vms: number;
  /** Share of the VMs (0-1) whose clients are under spread and among constraints. */
  readonly constrained: number;
  /** li: share of the VMs whose allocation rises (default 0.09); nr: share of failed nodes (default 0.05). */
  readonly intensity?: number;
}

const TEMPLATES = [30, 40, 50, 60].flatMap((cpu) => [100, 200, 300].map((mem) => ({ cpu, mem })));
/** BtrPlace's instances split 5,000 nodes into 20 groups of 250; smaller instances keep groups of 25 nodes at least. */
const MAX_GROUPS = 20;

export function generateWorkload(o: WorkloadOptions): Record<string, unknown> {
  const rng = mulberry32(o.seed * 7919 + (o.scenario === 'li' ? 1 : 2));
  const groupCount = Math.max(1, Math.min(MAX_GROUPS, Math.floor(o.nodes / 25)));
  const groupSize = Math.ceil(o.nodes / groupCount);
  const groups: number[][] = Array.from({ length: groupCount }, (_, g) =>
    range(g * groupSize, Math.min(o.nodes, (g + 1) * groupSize)),
  );
  const memFree = new Int32Array(o.nodes).fill(1600);
  const cpuFree = new Int32Array(o.nodes).fill(200);
  const running: number[][] = Array.from({ length: o.nodes }, () => []);
  const memory: Record<string, number> = {};
  const uCpu: Record<string, number> = {};
  const attributes: Record<string, Record<string, unknown>> = {};
  const constraints: Record<string, unknown>[] = [];
  const hostOf = new Int32Array(o.vms).fill(-1);
  const templateCpu = new Int32Array(o.vms);

  // Clients of 3 tiers of 1-8 VMs each, placed group by group so that among holds from the start.
  let vm = 0;
  let constrainedVms = 0;
  while (vm < o.vms) {
    const tiers = [rng.int(1, 8), rng.int(1, 8), rng.int(1, 8)].map((k) => range(vm, (vm = Math.min(o.vms, vm + k))));
    const all = tiers.flat();
    if (all.length === 0) break;
    const constrained = constrainedVms < o.constrained * o.vms;
    if (constrained) constrainedVms += all.length;
    const group = constrained ? rng.pick(groups) : undefined;
    for (const tier of tiers) {
      const used = new Set<number>();
      for (const v of tier) {
        const t = rng.pick(TEMPLATES);
        const cpu = Math.round(t.cpu * (0.3 + 0.4 * rng.next()));
        const host = place(rng, group ?? null, o.nodes, t.mem, cpu, memFree, cpuFree, constrained ? used : undefined);
        used.add(host);
        memFree[host]! -= t.mem;
        cpuFree[host]! -= cpu;
        running[host]!.push(v);
        hostOf[v] = host;
        templateCpu[v] = t.cpu;
        memory[v] = t.mem;
        uCpu[v] = cpu;
        const boot = rng.pick([4, 5, 9]);
        attributes[v] = {
          template: `c${t.cpu}m${t.mem}`,
          uCpu: t.cpu,
          boot,
          shutdown: boot + 1,
          halt: boot + 1,
          clone: true,
        };
      }
      if (constrained && tier.length > 1) constraints.push({ id: 'spread', vms: tier, continuous: true });
    }
    if (constrained && all.length > 1) constraints.push({ id: 'among', vms: all, parts: groups, continuous: true });
  }

  const offlineNodes: number[] = [];
  const readyVMs: number[] = [];
  if (o.scenario === 'li') {
    for (let v = 0; v < o.vms; v++) {
      if (rng.next() < (o.intensity ?? 0.09) && templateCpu[v]! > uCpu[v]!)
        constraints.push({ id: 'preserve', vm: v, rc: 'uCpu', amount: templateCpu[v] });
    }
    for (let n = 0; n < o.nodes; n++) constraints.push({ id: 'online', node: n, continuous: false });
  } else {
    const failed = new Set(rng.shuffle(range(0, o.nodes)).slice(0, Math.round(o.nodes * (o.intensity ?? 0.05))));
    for (let n = 0; n < o.nodes; n++) {
      if (failed.has(n)) {
        offlineNodes.push(n);
        constraints.push({ id: 'offline', node: n, continuous: false });
        for (const v of running[n]!) {
          readyVMs.push(v);
          constraints.push({ id: 'running', vm: v, continuous: false });
        }
        running[n] = [];
      } else constraints.push({ id: 'online', node: n, continuous: false });
    }
  }
  const onlineNodes: Record<string, unknown> = {};
  for (let n = 0; n < o.nodes; n++)
    if (!offlineNodes.includes(n)) onlineNodes[n] = { runningVMs: running[n], sleepingVMs: [] };
  const nodeValues = (x: number) => Object.fromEntries(range(0, o.nodes).map((n) => [n, x]));
  return {
    model: {
      mapping: { onlineNodes, offlineNodes, readyVMs },
      attributes: { nodes: {}, vms: attributes },
      views: [
        {
          id: 'shareableResource',
          rcId: 'memory',
          defCapacity: 0,
          defConsumption: 0,
          nodes: nodeValues(1600),
          vms: memory,
        },
        { id: 'shareableResource', rcId: 'uCpu', defCapacity: 0, defConsumption: 0, nodes: nodeValues(200), vms: uCpu },
      ],
    },
    constraints,
    objective: { id: 'minimizeMTTR' },
  };
}

function range(from: number, to: number): number[] {
  return Array.from({ length: Math.max(0, to - from) }, (_, i) => from + i);
}

/** A random node with room (in `group` when given), not one of `avoid`: random fit, so loads vary as in a real cluster. */
function place(
  rng: Rng,
  group: readonly number[] | null,
  nodes: number,
  mem: number,
  cpu: number,
  memFree: Int32Array,
  cpuFree: Int32Array,
  avoid?: Set<number>,
): number {
  const fits = (n: number) => memFree[n]! >= mem && cpuFree[n]! >= cpu && !avoid?.has(n);
  for (let k = 0; k < 256; k++) {
    const n = group ? rng.pick(group) : rng.int(0, nodes - 1);
    if (fits(n)) return n;
  }
  const scan = (group ?? range(0, nodes)).find(fits);
  if (scan === undefined) throw new Error('the workload does not fit its nodes: fewer VMs or more nodes');
  return scan;
}
