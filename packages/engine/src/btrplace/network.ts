import type { NetworkElement, NetworkModel, NetworkRoute } from '../model/network.ts';
import type { JsonReader } from './json-reader.ts';
import { nodeName, nodeNumber } from './ids.ts';

type Path = readonly PropertyKey[];

interface Link {
  readonly id: number;
  readonly capacity: number;
  /** The switch the link hangs from. */
  readonly sw: number;
  /** What is at its other end: a node or another switch. */
  readonly to: { readonly type: 'node' | 'switch'; readonly id: number };
}

/** A route as BtrPlace's Routing gives it: each link with its direction (true: crossed from `to` towards `sw`). */
type LinkPath = Map<Link, boolean>;

/**
 * BtrPlace's network view ("net", json/.../view/network/NetworkConverter.java): switches and links
 * with capacities (a negative one is unlimited), and a routing, `default` (DefaultRouting: the first
 * path a depth-first walk from the source node's link finds) or `static` (routes listed per pair of
 * nodes). As CNetwork models it (choco/.../view/CNetwork.java), a migration between two nodes holds
 * its path's maximal bandwidth (Routing.getMaxBW: the smallest capacity of its links and of the
 * switches they hang from) on every link of its path, one capacity per link and direction (full
 * duplex), and on every switch of limited capacity it crosses, for its whole duration.
 */
export function readNetwork(r: JsonReader, view: Record<string, unknown>, path: Path): BtrPlaceNetwork {
  const capacityOf = (x: number) => (x < 0 ? Infinity : x);
  const switches = new Map<number, number>();
  (r.array(view.switches, [...path, 'switches']) ?? []).forEach((s, i) => {
    const o = r.object(s, [...path, 'switches', i]);
    const id = o && r.int(o.id, [...path, 'switches', i, 'id']);
    const cap = o && r.int(o.capacity, [...path, 'switches', i, 'capacity']);
    if (id !== undefined && cap !== undefined) switches.set(id, capacityOf(cap));
  });
  const links: Link[] = [];
  (r.array(view.links, [...path, 'links']) ?? []).forEach((l, i) => {
    const at = [...path, 'links', i];
    const o = r.object(l, at);
    if (!o) return;
    const id = r.int(o.id, [...at, 'id']);
    const cap = r.int(o.capacity, [...at, 'capacity']);
    const sw = r.int(o.switch, [...at, 'switch']);
    const pe = r.object(o.physicalElement, [...at, 'physicalElement']);
    const peId = pe && r.int(pe.id, [...at, 'physicalElement', 'id']);
    if (id === undefined || cap === undefined || sw === undefined || !pe || peId === undefined) return;
    if (!switches.has(sw)) return r.report([...at, 'switch'], `unknown switch ${sw}`);
    if (pe.type !== 'node' && pe.type !== 'switch')
      return r.report([...at, 'physicalElement', 'type'], `must be 'node' or 'switch'`);
    if (pe.type === 'switch' && !switches.has(peId))
      return r.report([...at, 'physicalElement', 'id'], `unknown switch ${peId}`);
    links.push({ id, capacity: capacityOf(cap), sw, to: { type: pe.type, id: peId } });
  });
  const routing = r.object(view.routing ?? { type: 'default' }, [...path, 'routing']);
  const type = routing && r.string(routing.type, [...path, 'routing', 'type']);
  let pathOf: (src: number, dst: number) => LinkPath | undefined = () => undefined;
  if (type === 'default') pathOf = defaultRouting(links);
  else if (type === 'static' && routing) pathOf = staticRouting(r, routing, links, [...path, 'routing']);
  else if (type !== undefined)
    r.report([...path, 'routing', 'type'], `unknown routing '${type}' (supported: default, static)`);
  // A node's own link, capped by its switch: the bandwidth a migration's estimate takes before its destination is known.
  const nodeLink = new Map<string, number>();
  for (const l of links)
    if (l.to.type === 'node' && !nodeLink.has(nodeName(l.to.id)))
      nodeLink.set(nodeName(l.to.id), Math.min(l.capacity, switches.get(l.sw) ?? Infinity));
  return { model: networkModel(switches, links, pathOf), nodeLink };
}

/** The network view: Entropy's model of it, and each node's own link bandwidth. */
export interface BtrPlaceNetwork {
  readonly model: NetworkModel;
  readonly nodeLink: ReadonlyMap<string, number>;
}

/** DefaultRouting.getPath: from the source node's first link, depth first through the switches, links in their order. */
function defaultRouting(links: readonly Link[]): (src: number, dst: number) => LinkPath | undefined {
  const ofNode = new Map<number, Link>();
  const ofSwitch = new Map<number, Link[]>();
  const add = (sw: number, l: Link) => {
    const list = ofSwitch.get(sw);
    if (list) list.push(l);
    else ofSwitch.set(sw, [l]);
  };
  for (const l of links) {
    if (l.to.type === 'node') {
      if (!ofNode.has(l.to.id)) ofNode.set(l.to.id, l);
    } else add(l.to.id, l);
    add(l.sw, l);
  }
  const walk = (path: LinkPath, sw: number, dst: number): boolean => {
    for (const l of ofSwitch.get(sw) ?? []) {
      if (path.has(l)) continue;
      path.set(l, l.sw !== sw);
      if (l.to.type === 'node') {
        if (l.to.id === dst) return true;
      } else if (walk(path, l.sw === sw ? l.to.id : l.sw, dst)) return true;
      path.delete(l);
    }
    return false;
  };
  return (src, dst) => {
    const first = ofNode.get(src);
    if (!first || src === dst) return undefined;
    const path: LinkPath = new Map([[first, true]]);
    return walk(path, first.sw, dst) ? path : undefined;
  };
}

/** StaticRouting: `routes`, each `nodes_map` (`src`, `dst`) and `links` (`link`, `direction` "true"/"false"). */
function staticRouting(
  r: JsonReader,
  routing: Record<string, unknown>,
  links: readonly Link[],
  path: Path,
): (src: number, dst: number) => LinkPath | undefined {
  const byId = new Map(links.map((l) => [l.id, l]));
  const routes = new Map<string, LinkPath>();
  (r.array(routing.routes, [...path, 'routes']) ?? []).forEach((x, i) => {
    const at = [...path, 'routes', i];
    const o = r.object(x, at);
    const nodes = o && r.object(o.nodes_map, [...at, 'nodes_map']);
    const src = nodes && r.int(nodes.src, [...at, 'nodes_map', 'src']);
    const dst = nodes && r.int(nodes.dst, [...at, 'nodes_map', 'dst']);
    if (!o || src === undefined || dst === undefined) return;
    const route: LinkPath = new Map();
    (r.array(o.links, [...at, 'links']) ?? []).forEach((y, k) => {
      const lo = r.object(y, [...at, 'links', k]);
      const id = lo && r.int(lo.link, [...at, 'links', k, 'link']);
      if (!lo || id === undefined) return;
      const l = byId.get(id);
      if (!l) return r.report([...at, 'links', k, 'link'], `unknown link ${id}`);
      route.set(l, String(lo.direction) === 'true');
    });
    routes.set(`${src}/${dst}`, route);
  });
  return (src, dst) => routes.get(`${src}/${dst}`);
}

/** The routes as Entropy's network model: each direction of a limited link, and each limited switch, is an element. */
function networkModel(
  switches: ReadonlyMap<number, number>,
  links: readonly Link[],
  pathOf: (src: number, dst: number) => LinkPath | undefined,
): NetworkModel {
  const elements: NetworkElement[] = [];
  const index = new Map<string, number>();
  for (const l of links) {
    if (l.capacity === Infinity) continue;
    for (const up of [true, false]) {
      index.set(`${l.id}/${up}`, elements.length);
      const name =
        l.to.type === 'node'
          ? `link ${l.id} (${nodeName(l.to.id)}, ${up ? 'outbound' : 'inbound'})`
          : `link ${l.id} (${up ? 'up' : 'down'})`;
      elements.push({ name, capacity: l.capacity });
    }
  }
  for (const [sw, cap] of switches) {
    if (cap === Infinity) continue;
    index.set(`switch ${sw}`, elements.length);
    elements.push({ name: `switch ${sw}`, capacity: cap });
  }
  const cache = new Map<string, NetworkRoute | undefined>();
  const compute = (from: string, to: string): NetworkRoute | undefined => {
    const path = pathOf(nodeNumber(from), nodeNumber(to));
    if (!path || path.size === 0) return undefined;
    let bandwidth = Infinity;
    const held: number[] = [];
    const crossed = new Set<number>();
    for (const [l, up] of path) {
      bandwidth = Math.min(bandwidth, l.capacity, switches.get(l.sw) ?? Infinity);
      crossed.add(l.sw);
      if (l.to.type === 'switch') crossed.add(l.to.id);
      const i = index.get(`${l.id}/${up}`);
      if (i !== undefined) held.push(i);
    }
    for (const sw of crossed) {
      const i = index.get(`switch ${sw}`);
      if (i !== undefined) held.push(i);
    }
    return bandwidth === Infinity ? undefined : { elements: held, bandwidth };
  };
  return {
    elements,
    route(from, to) {
      const key = `${from}\u0000${to}`;
      if (!cache.has(key)) cache.set(key, compute(from, to));
      return cache.get(key);
    },
  };
}

/** CNetwork's migration duration, in BtrPlace time units, for a VM of `memUsed` over a path of `bandwidth`. */
export function migrationUnits(memUsed: number, bandwidth: number, attrs: Readonly<Record<string, unknown>>): number {
  const num = (k: string, d: number) => (typeof attrs[k] === 'number' ? (attrs[k] as number) : d);
  const hotDirtySize = num('hotDirtySize', 5.0);
  const hotDirtyDuration = num('hotDirtyDuration', 2.0);
  const coldDirtyRate = num('coldDirtyRate', 0.0);
  const bandwidthOctet = bandwidth / 9.0;
  const durationMin = memUsed / bandwidthOctet;
  let total: number;
  if (durationMin > hotDirtyDuration) {
    const cold = (hotDirtySize + (durationMin - hotDirtyDuration) * coldDirtyRate) / (bandwidthOctet - coldDirtyRate);
    const hot =
      (hotDirtySize / bandwidthOctet) *
      (hotDirtySize / hotDirtyDuration / (bandwidthOctet - hotDirtySize / hotDirtyDuration));
    total = durationMin + cold + hot;
  } else {
    total =
      durationMin +
      ((hotDirtySize / hotDirtyDuration) * durationMin) / (bandwidthOctet - hotDirtySize / hotDirtyDuration);
  }
  return Math.max(1, Math.round(total));
}

/**
 * Migration durations in BtrPlace units by CNetwork's formula, for the VMs that have `memUsed`:
 * `between` over the route from one node to another, `estimate` over the VM's own node link (what
 * the placement weighs before it knows the destination).
 */
export function networkMigrationUnits(
  network: BtrPlaceNetwork,
  vmAttributes: ReadonlyMap<string, Readonly<Record<string, unknown>>>,
  hostOf: ReadonlyMap<string, string>,
): MigrationUnits {
  const over = (vm: string, bandwidth: number | undefined) => {
    const attrs = vmAttributes.get(vm);
    const mem = attrs?.memUsed;
    if (typeof mem !== 'number' || bandwidth === undefined || bandwidth <= 0 || bandwidth === Infinity)
      return undefined;
    return migrationUnits(mem, bandwidth, attrs!);
  };
  return {
    between: (vm, from, to) => over(vm, network.model.route(from, to)?.bandwidth),
    estimate: (vm) => {
      const host = hostOf.get(vm);
      return over(vm, host === undefined ? undefined : network.nodeLink.get(host));
    },
  };
}

export interface MigrationUnits {
  between(vm: string, from: string, to: string): number | undefined;
  estimate(vm: string): number | undefined;
}
