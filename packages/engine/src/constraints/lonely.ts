import type { ConstraintKind } from './face.ts';
import { finalRunning, firstClash, nodeId, runsAtSource, span, viewVms, vmId, vmIndexes } from './support.ts';

/**
 * BtrPlace Lonely: the VMs share their nodes with no VM outside the set. It concerns every VM (an
 * outsider may not join a node of the set), so its rules count insiders and outsiders per node.
 * Continuous: an insider starts arriving on a node only once every outsider has left, and the other
 * way round.
 */
export const lonely: ConstraintKind<'lonely'> = {
  type: 'lonely',
  compile(c, p) {
    const inside = new Uint8Array(p.vmCount);
    for (const v of vmIndexes(p, c.vms)) inside[v] = 1;
    const count = () => {
      const k = new Int32Array(p.nodeCount * 2);
      for (let v = 0; v < p.vmCount; v++) if (runsAtSource(p, v)) k[p.host[v]! * 2 + inside[v]!]++;
      return k;
    };
    const source = count();
    let infeasible: string | undefined;
    if (c.continuous)
      for (let n = 0; n < p.nodeCount; n++)
        if (source[n * 2]! > 0 && source[n * 2 + 1]! > 0)
          infeasible = `node ${p.configuration.nodes[n]!.id} already hosts VMs of the set and others`;
    // Neither VMs nor nodes narrow it: an outsider can break it anywhere.
    return {
      ...(infeasible ? { infeasible } : {}),
      placement() {
        const on = new Int32Array(p.nodeCount * 2);
        return {
          allows: (vm, node) => on[node * 2 + 1 - inside[vm]!] === 0,
          assign: (vm, node) => void on[node * 2 + inside[vm]!]++,
          unassign: (vm, node) => void on[node * 2 + inside[vm]!]--,
          misplaced(dest) {
            const out: number[] = [];
            for (let v = 0; v < p.vmCount; v++) if (inside[v] && dest[v]! >= 0 && on[dest[v]! * 2]! > 0) out.push(v);
            return out.sort((a, b) => p.mem[a]! - p.mem[b]! || a - b);
          },
        };
      },
      schedule: c.continuous
        ? () => {
            const present = count();
            return {
              mayStart: (t) => t.to < 0 || t.vm < 0 || present[t.to * 2 + 1 - inside[t.vm]!] === 0,
              started: (t) => void (t.to >= 0 && t.vm >= 0 && present[t.to * 2 + inside[t.vm]!]++),
              ended: (t) => void (t.from >= 0 && t.vm >= 0 && present[t.from * 2 + inside[t.vm]!]--),
            };
          }
        : undefined,
    };
  },
  check(c, view) {
    const set = new Set(viewVms(view, c.vms));
    if (c.continuous) {
      const touched = new Set<number>();
      for (const v of set) for (const s of view.staysOfVm[v]!) touched.add(s.node);
      for (const n of [...touched].sort((a, b) => a - b)) {
        const clash = firstClash(view.staysOnNode(n), (v) => (set.has(v) ? 1 : 0));
        if (clash) {
          const [a, b] = set.has(clash[0].vm) ? clash : [clash[1], clash[0]];
          return `VM ${vmId(view, a.vm)} (${span(a)}) shares node ${nodeId(view, n)} with VM ${vmId(view, b.vm)} (${span(b)}), outside the set`;
        }
      }
      return undefined;
    }
    for (const { vm, node } of finalRunning(view, [...set])) {
      const other = view.runningAtEnd(node).find((w) => !set.has(w));
      if (other !== undefined)
        return `VM ${vmId(view, vm)} shares node ${nodeId(view, node)} with VM ${vmId(view, other)}, outside the set, at the end`;
    }
    return undefined;
  },
};
