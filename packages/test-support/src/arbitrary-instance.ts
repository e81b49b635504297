import fc from 'fast-check';
import {
  DEFAULT_COST_MODEL,
  type Instance,
  type Node,
  REACHABLE_TARGETS,
  reachableTargets,
  type VJob,
  VJOB_STATES,
  type VJobState,
  type VM,
  type VMState,
} from '@entropy/engine';

export interface ArbitraryInstanceOptions {
  /** At most this many nodes (at least one); 6 by default. */
  readonly maxNodes?: number;
  /** At most this many VMs in all; 20 by default. */
  readonly maxVms?: number;
  /**
   * Also vjobs caught in mixed states, as an interrupted plan leaves them: all paused, or each VM
   * running, paused, sleeping or waiting. Off by default, so that the instances other tests and the
   * gap bench draw stay the same for the same seed.
   */
  readonly mixedStates?: boolean;
}

const vmFields = {
  cpu: fc.integer({ min: 1, max: 4 }),
  mem: fc.constantFrom(256, 512, 1024, 2048, 4096),
  /** Picks the host among the online nodes (running, paused, sleeping) when the vjob is not packed. */
  hostPick: fc.nat(),
};
const vmArb = fc.record(vmFields);

const vjobFields = {
  vms: fc.array(vmArb, { minLength: 1, maxLength: 4 }),
  state: fc.constantFrom(...VJOB_STATES),
  /** Picks the wanted state among those the life cycle allows from the VMs' states. */
  wantedPick: fc.nat(),
  inDecision: fc.boolean(),
  priority: fc.integer({ min: 0, max: 3 }),
};
const vjobArb = fc.record(vjobFields);

const MIXED_STATES: readonly VMState[] = ['running', 'paused', 'sleeping', 'waiting'];
/** A vjob in one state, all paused, or with each VM in its own state (its statePick among MIXED_STATES). */
const mixedVjobArb = fc.record({
  ...vjobFields,
  vms: fc.array(fc.record({ ...vmFields, statePick: fc.nat() }), { minLength: 1, maxLength: 4 }),
  layout: fc.constantFrom('uniform', 'paused', 'mixed'),
});

const nodeArb = fc.record({
  cpu: fc.integer({ min: 1, max: 8 }),
  mem: fc.constantFrom(1024, 2048, 4096, 8192),
  offline: fc.integer({ min: 0, max: 9 }).map((x) => x === 0),
});

/** A drawn vjob, either kind. */
interface RawVjob {
  readonly vms: readonly {
    readonly cpu: number;
    readonly mem: number;
    readonly hostPick: number;
    readonly statePick?: number;
  }[];
  readonly state: VJobState;
  readonly wantedPick: number;
  readonly inDecision: boolean;
  readonly priority: number;
  readonly layout?: 'uniform' | 'paused' | 'mixed';
}

/**
 * Tiny instances for property tests: 1-6 nodes (some offline), 0-20 VMs in vjobs of 1-4, every state
 * (with `mixedStates`, also paused and mixed vjobs), and a decision drawn from the life cycle table.
 * Running and paused VMs are packed first-fit when `packed`, otherwise put anywhere, so some sources
 * have overloaded nodes; some decisions cannot fit at all.
 */
export function arbitraryInstance(options: ArbitraryInstanceOptions = {}): fc.Arbitrary<Instance> {
  const maxNodes = Math.max(1, options.maxNodes ?? 6);
  const maxVms = Math.max(0, options.maxVms ?? 20);
  return fc
    .record({
      nodes: fc.array(nodeArb, { minLength: 1, maxLength: maxNodes }),
      vjobs: fc.array<RawVjob>(options.mixedStates ? mixedVjobArb : vjobArb, { maxLength: maxVms }),
      packed: fc.boolean(),
    })
    .map(({ nodes: rawNodes, vjobs: rawVjobs, packed }) => {
      const nodes: Node[] = rawNodes.map((n, i) => ({
        id: `n${i + 1}`,
        capacity: { cpu: n.cpu, mem: n.mem },
        state: n.offline ? 'offline' : 'online',
      }));
      const online = nodes.filter((n) => n.state === 'online');
      const free = new Map(online.map((n) => [n.id, { ...n.capacity }]));
      const firstFit = (cpu: number, mem: number) =>
        online.find((n) => free.get(n.id)!.cpu >= cpu && free.get(n.id)!.mem >= mem);

      const vms: VM[] = [];
      const vjobs: VJob[] = [];
      const decision: Record<string, VJobState> = {};
      for (const raw of rawVjobs) {
        if (vms.length + raw.vms.length > maxVms) break;
        const id = `j${vjobs.length + 1}`;
        const own: string[] = [];
        const states: VMState[] = [];
        for (const v of raw.vms) {
          const vmId = `v${vms.length + 1}`;
          const drawn =
            raw.layout === 'paused'
              ? 'paused'
              : raw.layout === 'mixed'
                ? MIXED_STATES[(v.statePick ?? 0) % MIXED_STATES.length]!
                : raw.state;
          // A VM on a node needs an online one; with none, it waits.
          const state = online.length === 0 && drawn !== 'waiting' && drawn !== 'terminated' ? 'waiting' : drawn;
          let host: string | undefined;
          if (state === 'sleeping') host = online[v.hostPick % online.length]!.id;
          if (state === 'running' || state === 'paused') {
            const node = (packed ? firstFit(v.cpu, v.mem) : undefined) ?? online[v.hostPick % online.length]!;
            const f = free.get(node.id)!;
            f.cpu -= v.cpu;
            f.mem -= v.mem;
            host = node.id;
          }
          vms.push({ id: vmId, vjob: id, demand: { cpu: v.cpu, mem: v.mem }, state, ...(host ? { host } : {}) });
          own.push(vmId);
          states.push(state);
        }
        vjobs.push({ id, vms: own, priority: raw.priority, submittedAt: vjobs.length });
        // The table's own order for a uniform vjob keeps the draws of older seeds.
        const allowed =
          raw.layout === undefined || raw.layout === 'uniform'
            ? REACHABLE_TARGETS[states[0]!]
            : reachableTargets(states);
        if (raw.inDecision) decision[id] = allowed[raw.wantedPick % allowed.length]!;
      }
      return { configuration: { nodes, vms, vjobs }, decision, costModel: DEFAULT_COST_MODEL };
    });
}
