import type { NodeStatus, VMStatus } from '@entropy/protocol';
import type { StoredVJob } from '../../controller/src/queue/queue-store.ts';

/** A synthetic cluster for the turn bench: what the agents report, and what the queue holds. */
export interface TurnCluster {
  readonly statuses: readonly NodeStatus[];
  /** Every vjob of the queue: the running ones the statuses hold, then the waiting ones. */
  readonly vjobs: readonly StoredVJob[];
  readonly vms: number;
}

export interface TurnClusterSpec {
  readonly nodes: number;
  /** Running VMs, spread evenly over the nodes in vjob order. */
  readonly vms: number;
  /** Sizes of the running vjobs, in submission order; the rest of the VMs go in vjobs of `vjobSize`. */
  readonly leading?: readonly number[];
  readonly vjobSize: number;
  /** Vjobs of `vjobSize` VMs submitted last, waiting: the turn's small change starts them. */
  readonly waiting: number;
  readonly seed: number;
}

// Nodes of 128 cores and 128 GiB hold 100 VMs of 1 core and 1 GiB at 78% of their peak room.
const NODE = { cpu: 128, mem: 128 * 1024 };
const VM_DEMAND = { cpu: 1, mem: 1024 };

/** Deterministic: the same spec gives the same cluster. */
export function turnCluster(spec: TurnClusterSpec): TurnCluster {
  let s = spec.seed >>> 0 || 1;
  // xorshift32: measured CPU use between 0.2 and 0.8 of the peak.
  const rand = () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 2 ** 32;
  };
  const pad = (n: number, w: number) => String(n).padStart(w, '0');
  const nodeIds = Array.from({ length: spec.nodes }, (_, i) => `n${pad(i, 5)}`);
  const held: VMStatus[][] = nodeIds.map(() => []);
  const vjobs: StoredVJob[] = [];
  const sizes = [...(spec.leading ?? [])];
  let left = spec.vms - sizes.reduce((a, b) => a + b, 0);
  while (left > 0) {
    sizes.push(Math.min(spec.vjobSize, left));
    left -= spec.vjobSize;
  }
  const perNode = Math.ceil(spec.vms / spec.nodes);
  let vm = 0;
  for (const [j, size] of sizes.entries()) {
    const id = `j${pad(j, 5)}`;
    const vms = [];
    for (let k = 0; k < size; k++, vm++) {
      const vmId = `v${pad(vm, 6)}`;
      const host = nodeIds[Math.floor(vm / perNode)]!;
      vms.push({ id: vmId, demand: VM_DEMAND });
      held[Math.floor(vm / perNode)]!.push({
        id: vmId,
        vjob: id,
        state: 'running',
        host,
        cpu: Math.round((0.2 + 0.6 * rand()) * 100) / 100,
        mem: VM_DEMAND.mem,
      });
    }
    vjobs.push({ id, priority: 0, submittedAt: j, state: 'running', vms });
  }
  for (let w = 0; w < spec.waiting; w++) {
    const id = `w${pad(w, 5)}`;
    vjobs.push({
      id,
      priority: 0,
      submittedAt: sizes.length + w,
      state: 'waiting',
      vms: Array.from({ length: spec.vjobSize }, (_, k) => ({ id: `${id}-${pad(k, 4)}`, demand: VM_DEMAND })),
    });
  }
  const statuses = nodeIds.map(
    (node, i): NodeStatus => ({ node, seq: 1, ts: 1, driver: 'sim', capacity: NODE, vms: held[i]!, inFlight: 0 }),
  );
  return { statuses, vjobs, vms: vm + spec.waiting * spec.vjobSize };
}
