import { NODE_ACTION_TRANSITIONS, NODE_ACTION_TYPES } from '../model/lifecycle.ts';
import type { NodeAction, PlannedAction } from '../model/plan.ts';
import type { PlanContext } from './plan-context.ts';
import type { Replay } from './transition-check.ts';
import { violation, type Violation } from './violation.ts';

/**
 * Node power actions: each boot finds its node offline and each shutdown online (the node life cycle
 * of lifecycle.ts); no VM or image is on a node when its shutdown starts, nor arrives on it before
 * its boot ends, in both the timed and the barrier view; and a node action's own dependencies end
 * before it starts.
 */
export function checkNodePower(ctx: PlanContext, replay: Replay): Violation | undefined {
  const nodeActions = ctx.plan.nodeActions ?? [];
  if (nodeActions.length === 0) return undefined;
  const byNode = new Map<number, NodeAction[]>();
  for (let i = 0; i < nodeActions.length; i++) {
    const a = nodeActions[i]!;
    const subject = { actionId: a.id, node: a.node, at: a.start };
    const n = ctx.nodeIndex.get(a.node);
    if (n === undefined)
      return violation('malformed', `node action '${a.id}' names an unknown node '${a.node}'`, subject);
    if (!NODE_ACTION_TYPES.includes(a.type))
      return violation('malformed', `node action '${a.id}' has an unknown type '${String(a.type)}'`, subject);
    if (ctx.actionIndex.has(a.id) || ctx.nodeActionIndex.get(a.id) !== i)
      return violation('malformed', `node action '${a.id}' reuses an action id`, subject);
    if (!(a.start >= 0) || !(a.end >= a.start))
      return violation('malformed', `node action '${a.id}' runs from ${a.start} to ${a.end}`, subject);
    if (!Number.isInteger(a.step) || a.step < 0 || a.step >= ctx.plan.steps)
      return violation('malformed', `node action '${a.id}' has step ${a.step} of ${ctx.plan.steps}`, subject);
    for (const dep of a.dependsOn) {
      const d = ctx.actionIndex.has(dep)
        ? ctx.actions[ctx.actionIndex.get(dep)!]
        : nodeActions[ctx.nodeActionIndex.get(dep) ?? -1];
      if (!d) return violation('malformed', `node action '${a.id}' depends on an unknown action '${dep}'`, subject);
      if (d.end > a.start || d.step >= a.step)
        return violation(
          'dependency',
          `node action '${a.id}' (step ${a.step}, t=${a.start}) depends on '${d.id}', which ends at ${d.end} in step ${d.step}`,
          subject,
        );
    }
    const list = byNode.get(n);
    if (list) list.push(a);
    else byNode.set(n, [a]);
  }
  const occupancy = occupancyOf(ctx, replay);
  for (const [n, list] of byNode) {
    list.sort((x, y) => x.start - y.start || x.step - y.step);
    let state: 'online' | 'offline' = ctx.nodes[n]!.state === 'online' ? 'online' : 'offline';
    for (const a of list) {
      const rule = NODE_ACTION_TRANSITIONS[a.type];
      const subject = { actionId: a.id, node: a.node, at: a.start };
      if (state !== rule.from)
        return violation('node-power', `action '${a.id}' cannot ${a.type} node '${a.node}': it is ${state}`, subject);
      state = rule.to;
    }
    const stays = occupancy[n] ?? [];
    for (const a of list) {
      const subject = { actionId: a.id, node: a.node, at: a.start };
      for (const s of stays) {
        const who = `VM '${s.vm}'${s.image ? "'s image" : ''}`;
        if (a.type === 'shutdownNode') {
          // Whatever was on the node must be gone before the shutdown starts, in time and in steps.
          const before = s.to <= a.start && (s.leaving === undefined || s.leaving.step < a.step);
          const after = s.from >= a.end;
          if (!before && !after)
            return violation(
              'node-power',
              `node '${a.node}' shuts down at t=${a.start} (action '${a.id}') while ${who} is on it (${span(s)})`,
              { ...subject, vm: s.vm },
            );
        } else {
          const before = s.to <= a.start;
          const after = s.from >= a.end && (s.arriving === undefined || s.arriving.step > a.step);
          if (!before && !after)
            return violation(
              'node-power',
              `${who} is on node '${a.node}' (${span(s)}) before its boot ends at t=${a.end} (action '${a.id}')`,
              { ...subject, vm: s.vm },
            );
        }
      }
    }
  }
  return undefined;
}

interface Occupancy {
  readonly vm: string;
  readonly image: boolean;
  readonly from: number;
  readonly to: number;
  readonly arriving?: PlannedAction;
  readonly leaving?: PlannedAction;
}

const span = (s: Occupancy) => `from t=${s.from}${s.to === Infinity ? '' : ` to t=${s.to}`}`;

/** Per node, when each VM holds it: running or paused from its arrival's start to its departure's end, or as a sleeping image. */
function occupancyOf(ctx: PlanContext, replay: Replay): Occupancy[][] {
  const out: Occupancy[][] = ctx.nodes.map(() => []);
  ctx.vms.forEach((vm, v) => {
    let host = vm.host === undefined ? -1 : (ctx.nodeIndex.get(vm.host) ?? -1);
    let from = 0;
    let image = vm.state === 'sleeping';
    let arriving: PlannedAction | undefined;
    for (const i of replay.actionsOfVm[v]!) {
      const a = ctx.actions[i]!;
      const to = a.to !== undefined ? ctx.nodeIndex.get(a.to)! : host;
      const leaves =
        a.type === 'stop' ||
        a.type === 'suspend' ||
        (a.type === 'migrate' && to !== host) ||
        (a.type === 'resume' && to !== host);
      if (leaves && host >= 0)
        out[host]!.push({ vm: vm.id, image, from, to: a.end, leaving: a, ...(arriving ? { arriving } : {}) });
      if (a.type === 'suspend') [from, image, arriving] = [a.end, true, a];
      else if (a.type === 'resume') {
        if (to !== host) [from, arriving] = [a.start, a];
        image = false;
      } else if (a.type === 'migrate' || a.type === 'run') [from, arriving] = [a.start, a];
      host = a.type === 'stop' ? -1 : to;
      if (a.type === 'stop') arriving = undefined;
    }
    if (host >= 0 && replay.finalState[v] !== 'terminated' && replay.finalState[v] !== 'waiting')
      out[host]!.push({ vm: vm.id, image, from, to: Infinity, ...(arriving ? { arriving } : {}) });
  });
  return out;
}
