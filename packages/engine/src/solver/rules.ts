import type { EngineFace, PlacementRule, ScheduleRule, TaskRef } from '../constraints/face.ts';
import type { Problem } from '../model/problem.ts';

/**
 * The engine's side of the constraint faces: it routes each (VM, node) question only to the rules
 * whose scope covers it, so that a VM no constraint names costs the placement nothing. Rules scoped
 * to VMs are listed per VM, rules scoped to nodes per node, the rest are asked everything.
 */
export class Rules {
  readonly infeasible?: string;
  private readonly faces: readonly EngineFace[];

  constructor(
    private readonly p: Problem,
    faces: readonly EngineFace[],
    reasons: readonly string[],
  ) {
    this.faces = faces;
    const why = reasons.find((r) => r !== undefined);
    if (why !== undefined) this.infeasible = why;
  }

  get empty(): boolean {
    return this.faces.length === 0;
  }

  /** Fresh placement rules (their counts start empty). */
  placement(): PlacementRules {
    return new PlacementRules(
      this.p,
      this.faces.flatMap((f) => (f.placement ? [{ face: f, rule: f.placement() }] : [])),
    );
  }

  /** Fresh schedule rules, or undefined when no continuous constraint gates the planner. */
  schedule(): ScheduleRules | undefined {
    const list = this.faces.flatMap((f) => (f.schedule ? [{ face: f, rule: f.schedule() }] : []));
    return list.length > 0 ? new ScheduleRules(this.p, list) : undefined;
  }
}

interface Scoped<R> {
  readonly face: EngineFace;
  readonly rule: R;
}

/** Per-VM, per-node and global lists of rules, built from their scopes. */
class Router<R> {
  readonly byVm: (R[] | undefined)[];
  readonly byNode: (R[] | undefined)[];
  readonly global: R[] = [];
  /** Rules scoped to both VMs and nodes sit in byVm and check the node here. */
  readonly nodeFilter = new Map<R, Uint8Array>();

  constructor(p: Problem, list: readonly Scoped<R>[]) {
    this.byVm = new Array(p.vmCount);
    this.byNode = new Array(p.nodeCount);
    for (const { face, rule } of list) {
      if (face.vms) {
        for (const v of face.vms) (this.byVm[v] ??= []).push(rule);
        if (face.nodes) {
          const mask = new Uint8Array(p.nodeCount);
          for (const n of face.nodes) mask[n] = 1;
          this.nodeFilter.set(rule, mask);
        }
      } else if (face.nodes) for (const n of face.nodes) (this.byNode[n] ??= []).push(rule);
      else this.global.push(rule);
    }
  }

  /** Calls f on every rule concerned by `vm` arriving on, or leaving, `node` (-1: every rule of the VM). */
  each(vm: number, node: number, f: (r: R) => boolean | void): boolean {
    const own = vm >= 0 ? this.byVm[vm] : undefined;
    if (own) {
      for (const r of own) {
        const mask = this.nodeFilter.get(r);
        if (mask && (node < 0 || !mask[node])) continue;
        if (f(r) === false) return false;
      }
    }
    const here = node >= 0 ? this.byNode[node] : undefined;
    if (here) for (const r of here) if (f(r) === false) return false;
    for (const r of this.global) if (f(r) === false) return false;
    return true;
  }
}

export class PlacementRules {
  private readonly router: Router<PlacementRule>;
  private readonly all: readonly PlacementRule[];

  constructor(
    private readonly p: Problem,
    list: readonly Scoped<PlacementRule>[],
  ) {
    this.router = new Router(p, list);
    this.all = list.map((s) => s.rule);
  }

  allows(vm: number, node: number): boolean {
    return this.router.each(vm, node, (r) => r.allows(vm, node));
  }

  assign(vm: number, node: number): void {
    this.router.each(vm, node, (r) => r.assign(vm, node));
  }

  unassign(vm: number, node: number): void {
    this.router.each(vm, node, (r) => r.unassign(vm, node));
  }

  /** The smallest candidate list the VM's own rules offer, or undefined for every node. */
  candidates(vm: number): readonly number[] | undefined {
    let best: readonly number[] | undefined;
    for (const r of this.router.byVm[vm] ?? []) {
      const c = r.candidates?.(vm);
      if (c && (!best || c.length < best.length)) best = c;
    }
    return best;
  }

  /** VMs the rules want off their node, each once, in the order the rules give; pinned ones only when asked. */
  misplaced(dest: Int32Array, withPinned = false): number[] {
    const seen = new Set<number>();
    const out: number[] = [];
    for (const r of this.all) {
      for (const v of r.misplaced?.(dest) ?? []) {
        if (seen.has(v) || (this.p.pinned[v] && !withPinned)) continue;
        seen.add(v);
        out.push(v);
      }
    }
    return out;
  }
}

export class ScheduleRules {
  private readonly router: Router<ScheduleRule>;

  constructor(p: Problem, list: readonly Scoped<ScheduleRule>[]) {
    this.router = new Router(p, list);
  }

  mayStart(t: TaskRef): boolean {
    if (t.to < 0) return true;
    return this.router.each(t.vm, t.to, (r) => r.mayStart(t));
  }

  started(t: TaskRef): void {
    if (t.to >= 0) this.router.each(t.vm, t.to, (r) => r.started(t));
  }

  /** Records the end of an action; returns the nodes whose waiting actions deserve another try. */
  ended(t: TaskRef, wake: Set<number>): void {
    if (t.from < 0) return;
    this.router.each(t.vm, t.from, (r) => {
      const nodes = r.ended(t);
      if (nodes) for (const n of nodes) wake.add(n);
    });
  }
}
