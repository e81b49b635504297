import type { PlanContext } from './plan-context.ts';
import type { Replay } from './transition-check.ts';
import { addDemand, describeOverflow, EPSILON, overflowOf, sourceUsage } from './usage.ts';
import { violation, type Violation } from './violation.ts';

/**
 * The ASAP view: the executor may start each action as soon as its dependencies are over, whatever
 * the real durations. That is safe when every action bringing a VM onto node n finds room counting
 * every arrival on n planned to start no later than it, and only the departures from n its
 * dependencies (transitively) guarantee to be over. Whichever arrivals have really started at some
 * instant, the one planned last among them was checked against all of them this way.
 * Overloaded source nodes get no tolerance here: nothing may arrive on a node still over capacity.
 * Checked only for plans that declare dependencies: those are the ones ASAP execution can follow.
 */
export function checkAsap(ctx: PlanContext, replay: Replay): Violation | undefined {
  const { actions } = ctx;
  // A plan that declares no dependency at all is a barrier-only plan (a hand-written one, say).
  if (!actions.some((a) => a.dependsOn.length > 0)) return undefined;
  const arrivals: number[][] = Array.from({ length: ctx.nodes.length }, () => []);
  actions.forEach((_, i) => {
    const n = replay.consumeOn[i]!;
    if (n >= 0) arrivals[n]!.push(i);
  });
  const base = sourceUsage(ctx);
  const usage = new Float64Array(ctx.dims.length * ctx.nodes.length);
  for (let n = 0; n < ctx.nodes.length; n++) {
    const list = arrivals[n]!;
    if (list.length === 0) continue;
    list.sort((x, y) => actions[x]!.start - actions[y]!.start);
    const D = ctx.dims.length;
    for (let k = 0; k < D; k++) usage[n * D + k] = base[n * D + k]!;
    for (let s = 0; s < list.length; ) {
      const start = actions[list[s]!]!.start;
      let e = s;
      for (; e < list.length && actions[list[e]!]!.start === start; e++)
        addDemand(ctx, usage, n, ctx.vmOf[list[e]!]!, 1);
      for (let i = s; i < e; i++) {
        const c = list[i]!;
        const found =
          overflowAfterGuaranteedDepartures(ctx, replay, usage, n, c, false) &&
          overflowAfterGuaranteedDepartures(ctx, replay, usage, n, c, true);
        if (found) {
          const a = actions[c]!;
          const node = ctx.nodes[n]!.id;
          return violation(
            'dependency',
            `ASAP execution is unsafe: action '${a.id}' may start bringing VM '${a.vm}' onto node '${node}' before its dependencies guarantee room there (${describeOverflow(node, found)})`,
            { actionId: a.id, node, vm: a.vm, vjob: a.vjob, at: a.start },
          );
        }
      }
      s = e;
    }
  }
  return undefined;
}

/** The overflow of node n once the departures from n among c's dependencies are over; direct ones, or all ancestors. */
function overflowAfterGuaranteedDepartures(
  ctx: PlanContext,
  replay: Replay,
  usage: Float64Array,
  n: number,
  c: number,
  transitive: boolean,
) {
  const D = ctx.dims.length;
  const room = usage.slice(n * D, n * D + D);
  const seen = new Set<number>();
  const stack = [...depsOf(ctx, c)];
  while (stack.length > 0) {
    const d = stack.pop()!;
    if (seen.has(d)) continue;
    seen.add(d);
    if (replay.freeOn[d] === n) {
      const vm = ctx.vmOf[d]!;
      for (let k = 0; k < D; k++) room[k] -= ctx.demand[vm * D + k]!;
    }
    if (transitive) stack.push(...depsOf(ctx, d));
  }
  for (let k = 0; k < D; k++) {
    const cap = ctx.capacity[n * D + k]!;
    if (room[k]! > cap + EPSILON * Math.max(1, Math.abs(cap))) return overflowOf(ctx, withRoom(ctx, n, room), n);
  }
  return undefined;
}

/** A usage array holding `room` for node n only, to describe its overflow. */
function withRoom(ctx: PlanContext, n: number, room: Float64Array): Float64Array {
  const D = ctx.dims.length;
  const view = new Float64Array(ctx.nodes.length * D);
  view.set(room, n * D);
  return view;
}

function depsOf(ctx: PlanContext, i: number): number[] {
  const out: number[] = [];
  for (const id of ctx.actions[i]!.dependsOn) {
    const j = ctx.actionIndex.get(id);
    if (j !== undefined) out.push(j);
  }
  return out;
}
