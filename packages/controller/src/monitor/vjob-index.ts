import type { VM } from '@entropy/engine';
import type { ExcludedVM, MonitorView } from './cluster-monitor.ts';

/** A view's VMs grouped by vjob: what the queue reads per vjob, without a scan of every VM per vjob. */
export interface VjobIndex {
  /** The planned VMs of each vjob, in the configuration's order. */
  readonly vms: ReadonlyMap<string, readonly VM[]>;
  /** The VMs of each vjob left out of planning, in the view's order. */
  readonly excluded: ReadonlyMap<string, readonly ExcludedVM[]>;
}

// A view never changes once built: its index is built once, on first use, and dies with it.
const indexes = new WeakMap<MonitorView, VjobIndex>();

export function vjobIndexOf(view: MonitorView): VjobIndex {
  let index = indexes.get(view);
  if (index === undefined) {
    index = { vms: groupBy(view.configuration.vms, (v) => v.vjob), excluded: groupBy(view.excluded, (e) => e.vjob) };
    indexes.set(view, index);
  }
  return index;
}

function groupBy<T>(items: readonly T[], key: (item: T) => string | undefined): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const item of items) {
    const k = key(item);
    if (k === undefined) continue;
    const group = groups.get(k);
    if (group === undefined) groups.set(k, [item]);
    else group.push(item);
  }
  return groups;
}
