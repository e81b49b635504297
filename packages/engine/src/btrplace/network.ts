import type { JsonReader } from './json-reader.ts';
import type { Attributes } from './durations.ts';
import { nodeName } from './ids.ts';

type Path = readonly PropertyKey[];

/**
 * BtrPlace's network view ("net"): links from nodes to switches, with capacities. With it, BtrPlace
 * computes a migration's duration from the VM's `memUsed` attribute and the bandwidth of its path
 * (choco/.../view/CNetwork.java). Entropy takes the same formula with the bandwidth of the source
 * node's link (the default routing through one switch, where every link is alike); the per-link
 * bandwidth sharing between concurrent migrations is not modelled.
 */
export function readNetwork(r: JsonReader, view: Record<string, unknown>, path: Path): Map<string, number> {
  const linkOf = new Map<string, number>();
  const switches = new Map<number, number>();
  (r.array(view.switches, [...path, 'switches']) ?? []).forEach((s, i) => {
    const o = r.object(s, [...path, 'switches', i]);
    const id = o && r.int(o.id, [...path, 'switches', i, 'id']);
    const cap = o && r.int(o.capacity, [...path, 'switches', i, 'capacity']);
    if (id !== undefined && cap !== undefined) switches.set(id, cap);
  });
  (r.array(view.links, [...path, 'links']) ?? []).forEach((l, i) => {
    const o = r.object(l, [...path, 'links', i]);
    if (!o) return;
    const cap = r.int(o.capacity, [...path, 'links', i, 'capacity']);
    const sw = r.int(o.switch, [...path, 'links', i, 'switch']);
    const pe = r.object(o.physicalElement, [...path, 'links', i, 'physicalElement']);
    if (!pe || cap === undefined || sw === undefined || pe.type !== 'node') return;
    const id = r.int(pe.id, [...path, 'links', i, 'physicalElement', 'id']);
    if (id === undefined) return;
    const swCap = switches.get(sw) ?? -1;
    linkOf.set(nodeName(id), swCap > 0 ? Math.min(cap, swCap) : cap);
  });
  return linkOf;
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

/** The migration duration of each VM that has `memUsed`, over its current node's link. */
export function networkMigrations(
  linkOf: ReadonlyMap<string, number>,
  vmAttributes: Attributes,
  hostOf: ReadonlyMap<string, string>,
): (vm: string) => number | undefined {
  return (vm) => {
    const attrs = vmAttributes.get(vm);
    const mem = attrs?.memUsed;
    const host = hostOf.get(vm);
    const bw = host !== undefined ? linkOf.get(host) : undefined;
    if (typeof mem !== 'number' || bw === undefined || bw <= 0) return undefined;
    return migrationUnits(mem, bw, attrs!);
  };
}
