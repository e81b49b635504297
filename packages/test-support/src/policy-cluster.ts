import {
  buildPolicyView,
  type Configuration,
  type Node,
  type PolicyView,
  type Resources,
  type VJob,
  type VJobState,
  type VM,
} from '@entropy/engine';

/** Hand-made situations for the policy tests: `node('n1', 2, 4096)`, `vjob('j1', {...})`. */
export interface VJobSpec {
  readonly state: VJobState;
  readonly vms: number;
  readonly cpu?: number;
  readonly mem?: number;
  readonly hosts?: readonly string[];
  readonly priority?: number;
  readonly submittedAt?: number;
  /** Measured cpu of each VM (all the same). */
  readonly usedCpu?: number;
}

export function cluster(nodes: readonly Node[], vjobs: Readonly<Record<string, VJobSpec>>, now = 0): PolicyView {
  const vms: VM[] = [];
  const js: VJob[] = [];
  const usage: Record<string, Resources> = {};
  for (const [id, s] of Object.entries(vjobs)) {
    const ids: string[] = [];
    for (let i = 0; i < s.vms; i++) {
      const vmId = `${id}-vm${i + 1}`;
      const host =
        s.state === 'running' || s.state === 'sleeping' ? (s.hosts?.[i % s.hosts.length] ?? nodes[0]!.id) : undefined;
      vms.push({
        id: vmId,
        vjob: id,
        state: s.state,
        demand: { cpu: s.cpu ?? 1, mem: s.mem ?? 1024 },
        ...(host ? { host } : {}),
      });
      if (s.usedCpu !== undefined) usage[vmId] = { cpu: s.usedCpu };
      ids.push(vmId);
    }
    js.push({ id, vms: ids, priority: s.priority ?? 0, submittedAt: s.submittedAt ?? 0 });
  }
  const configuration: Configuration = { nodes, vms, vjobs: js };
  return buildPolicyView(configuration, usage, now);
}

export function node(id: string, cpu: number, mem: number): Node {
  return { id, capacity: { cpu, mem }, state: 'online' };
}
