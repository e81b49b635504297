import type { Configuration, VM } from './configuration.ts';

// A configuration never changes once built: its index is built once, on first use, and dies with it.
const indexes = new WeakMap<Configuration, readonly (readonly (VM | undefined)[])[]>();

/**
 * The VMs of each vjob of a configuration (by position in `configuration.vjobs`), in the order its
 * `vms` lists them; undefined where it lists a VM the configuration does not have. The policy view and the decision check both read it,
 * once per turn on 100,000 VMs: the VMs are grouped by their `vjob` in one pass, and an index by
 * id is built only when a group does not match its vjob's list (the monitor's configurations
 * always match: both are sorted by id). VM ids are unique in a configuration, as the instance
 * validator and the monitor make them.
 */
export function vmsOfVjobs(configuration: Configuration): readonly (readonly (VM | undefined)[])[] {
  let index = indexes.get(configuration);
  if (index !== undefined) return index;
  const groups = new Map<string, VM[]>();
  for (const vm of configuration.vms) {
    const group = groups.get(vm.vjob);
    if (group === undefined) groups.set(vm.vjob, [vm]);
    else group.push(vm);
  }
  let byId: Map<string, VM> | undefined;
  const result = configuration.vjobs.map((j) => {
    const group = groups.get(j.id);
    if (group !== undefined && sameIds(group, j.vms)) return group;
    // As a Map built from every VM: a repeated id resolves to its last VM.
    if (byId === undefined) {
      byId = new Map();
      for (const vm of configuration.vms) byId.set(vm.id, vm);
    }
    const ids = byId;
    return j.vms.map((id) => ids.get(id));
  });
  index = result;
  indexes.set(configuration, index);
  return index;
}

function sameIds(vms: readonly VM[], ids: readonly string[]): boolean {
  if (vms.length !== ids.length) return false;
  for (let k = 0; k < ids.length; k++) if (vms[k]!.id !== ids[k]) return false;
  return true;
}
