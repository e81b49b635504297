import type { NetworkModel } from '../model/network.ts';
import type { PlanContext } from './plan-context.ts';
import { violation, type Violation } from './violation.ts';

/**
 * Bandwidth over time on a network (BtrPlace's network view, as its CNetwork cumulatives): each
 * migration between two nodes holds its route's bandwidth on every link direction and switch of the
 * route from its start to its end (half-open: ends first at one instant); no element may carry more
 * than its capacity at any instant.
 */
export function checkNetwork(ctx: PlanContext, network: NetworkModel): Violation | undefined {
  const { actions } = ctx;
  const routes = actions.map((a) =>
    a.type === 'migrate' && a.from !== undefined && a.to !== undefined && a.from !== a.to
      ? network.route(a.from, a.to)
      : undefined,
  );
  // Event e is action e >> 1; low bit 0 for its end, 1 for its start (ends sort first).
  const events: number[] = [];
  routes.forEach((r, i) => {
    if (r && r.elements.length > 0) events.push(i * 2, i * 2 + 1);
  });
  const timeOf = (e: number) => (e & 1 ? actions[e >> 1]!.start : actions[e >> 1]!.end);
  events.sort((x, y) => timeOf(x) - timeOf(y) || (x & 1) - (y & 1) || x - y);
  const used = new Float64Array(network.elements.length);
  const last = new Int32Array(network.elements.length).fill(-1);
  const touched: number[] = [];
  for (let k = 0; k < events.length; ) {
    const t = timeOf(events[k]!);
    for (; k < events.length && timeOf(events[k]!) === t; k++) {
      const i = events[k]! >> 1;
      const r = routes[i]!;
      const sign = events[k]! & 1 ? 1 : -1;
      for (const e of r.elements) {
        used[e] += sign * r.bandwidth;
        if (sign > 0) {
          if (last[e]! < 0) touched.push(e);
          last[e] = i;
        }
      }
    }
    for (const e of touched) {
      const { name, capacity } = network.elements[e]!;
      if (used[e]! > capacity * (1 + 1e-9)) {
        const a = actions[last[e]!]!;
        return violation(
          'network',
          `${name} carries ${Math.round(used[e]!)} > capacity ${capacity} at t=${t} (action '${a.id}' migrates VM '${a.vm}' from '${a.from}' to '${a.to}' over it)`,
          { at: t, actionId: a.id, vm: a.vm, vjob: a.vjob },
        );
      }
      last[e] = -1;
    }
    touched.length = 0;
  }
  return undefined;
}
