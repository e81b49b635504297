import type { Problem } from '../model/problem.ts';
import type { ConstraintKind } from './face.ts';
import {
  finalRunning,
  firstClash,
  keepHeaviest,
  nodeId,
  runsAtSource,
  span,
  staysOf,
  viewVms,
  vmId,
} from './support.ts';

/** VM index -> part index for disjoint parts of VM ids. */
export function partIndex(
  p: Problem,
  parts: readonly (readonly string[])[],
): { partOf: Map<number, number>; vms: number[] } {
  const partOf = new Map<number, number>();
  parts.forEach((part, k) => {
    for (const id of part) {
      const v = p.vmIndex.get(id);
      if (v !== undefined && !partOf.has(v)) partOf.set(v, k);
    }
  });
  return { partOf, vms: [...partOf.keys()] };
}

/** Per node, how many VMs of each part are on it. */
export class PartCounts {
  private readonly m = new Map<number, Int32Array>();
  constructor(private readonly parts: number) {}
  add(node: number, part: number, k: number): void {
    let a = this.m.get(node);
    if (!a) this.m.set(node, (a = new Int32Array(this.parts)));
    a[part] += k;
  }
  /** Whether a VM of another part than `part` is on the node. */
  othersOn(node: number, part: number): boolean {
    const a = this.m.get(node);
    if (!a) return false;
    for (let q = 0; q < a.length; q++) if (q !== part && a[q]! > 0) return true;
    return false;
  }
}

/**
 * BtrPlace Split: VMs of different parts never share a node. Continuous: at no instant either, so a
 * VM starts arriving on a node only once the VMs of the other parts have left it.
 */
export const split: ConstraintKind<'split'> = {
  type: 'split',
  compile(c, p) {
    const { partOf, vms } = partIndex(p, c.parts);
    const source = new PartCounts(c.parts.length);
    for (const v of vms) if (runsAtSource(p, v)) source.add(p.host[v]!, partOf.get(v)!, 1);
    const infeasible =
      c.continuous && vms.some((v) => runsAtSource(p, v) && source.othersOn(p.host[v]!, partOf.get(v)!))
        ? 'VMs of different parts already share a node in the source configuration'
        : undefined;
    return {
      vms,
      ...(infeasible ? { infeasible } : {}),
      placement() {
        const on = new PartCounts(c.parts.length);
        return {
          allows: (vm, node) => !on.othersOn(node, partOf.get(vm)!),
          assign: (vm, node) => on.add(node, partOf.get(vm)!, 1),
          unassign: (vm, node) => on.add(node, partOf.get(vm)!, -1),
          misplaced: (dest) => keepHeaviest(p, dest, vms, (v) => partOf.get(v)!),
        };
      },
      schedule: c.continuous
        ? () => {
            const present = new PartCounts(c.parts.length);
            for (const v of vms) if (runsAtSource(p, v)) present.add(p.host[v]!, partOf.get(v)!, 1);
            return {
              mayStart: (t) => t.to < 0 || !present.othersOn(t.to, partOf.get(t.vm)!),
              started: (t) => (t.to >= 0 ? present.add(t.to, partOf.get(t.vm)!, 1) : undefined),
              ended: (t) => (t.from >= 0 ? present.add(t.from, partOf.get(t.vm)!, -1) : undefined),
            };
          }
        : undefined,
    };
  },
  check(c, view) {
    const partOf = new Map<number, number>();
    c.parts.forEach((part, k) => viewVms(view, part).forEach((v) => partOf.set(v, k)));
    const vms = [...partOf.keys()];
    if (c.continuous) {
      const clash = firstClash(staysOf(view, vms), (v) => partOf.get(v)!);
      return clash
        ? `VMs ${vmId(view, clash[0].vm)} (part ${partOf.get(clash[0].vm)! + 1}, ${span(clash[0])}) and ${vmId(view, clash[1].vm)} (part ${partOf.get(clash[1].vm)! + 1}, ${span(clash[1])}) are both on node ${nodeId(view, clash[0].node)}`
        : undefined;
    }
    const seen = new Map<number, number>();
    for (const { vm, node } of finalRunning(view, vms)) {
      const other = seen.get(node);
      if (other !== undefined && partOf.get(other) !== partOf.get(vm))
        return `VMs ${vmId(view, other)} (part ${partOf.get(other)! + 1}) and ${vmId(view, vm)} (part ${partOf.get(vm)! + 1}) both run on node ${nodeId(view, node)} at the end`;
      seen.set(node, vm);
    }
    return undefined;
  },
};
