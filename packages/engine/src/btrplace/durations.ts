import type { ActionDurations } from '../model/problem.ts';
import type { CostKind } from '../model/cost-model.ts';
import { costModelWith, type CostModel } from '../model/cost-model.ts';
import { UNIT_MS } from './ids.ts';
import type { MigrationUnits } from './network.ts';

/** BtrPlace's attribute key for the duration of each kind of action (choco/.../duration/DurationEvaluators.java). */
const VM_ATTRIBUTE: Readonly<Partial<Record<CostKind, string>>> = {
  run: 'boot',
  stop: 'shutdown',
  suspend: 'suspend',
  resumeLocal: 'resume',
  resumeRemote: 'resume',
  migrate: 'migrate',
};

/**
 * BtrPlace's defaults: every action lasts 1 time unit unless an attribute of its VM or node says
 * otherwise. Pause and unpause are Entropy's own steps of a suspend and a resume: they take no time.
 */
export const BTRPLACE_COST_MODEL: CostModel = costModelWith({
  run: { base: UNIT_MS, perMiB: 0 },
  stop: { base: UNIT_MS, perMiB: 0 },
  suspend: { base: UNIT_MS, perMiB: 0 },
  resumeLocal: { base: UNIT_MS, perMiB: 0 },
  resumeRemote: { base: UNIT_MS, perMiB: 0 },
  migrate: { base: UNIT_MS, perMiB: 0 },
  pause: { base: 0, perMiB: 0 },
  unpause: { base: 0, perMiB: 0 },
  bootNode: { base: UNIT_MS, perMiB: 0 },
  shutdownNode: { base: UNIT_MS, perMiB: 0 },
});

export type Attributes = ReadonlyMap<string, Readonly<Record<string, unknown>>>;

const positive = (x: unknown): number | undefined => (typeof x === 'number' && x > 0 ? x : undefined);

/**
 * Durations from the instance's attributes (in BtrPlace time units, scaled to ms): `boot`,
 * `shutdown`, `suspend`, `resume`, `migrate` on VMs, `kill` for VMs a killed constraint removes,
 * `boot` and `shutdown` on nodes. With a network view, `network` gives a migration's duration from
 * its route's bandwidth (and an estimate from the VM's own link, before its destination is known).
 */
export function attributeDurations(
  vmAttributes: Attributes,
  nodeAttributes: Attributes,
  killed: ReadonlySet<string>,
  network?: MigrationUnits,
): ActionDurations {
  const ms = (units: number | undefined) => (units === undefined ? undefined : units * UNIT_MS);
  return {
    vm(vm, kind) {
      const own = vmAttributes.get(vm);
      if (kind === 'migrate' && network) {
        const units = network.estimate(vm);
        if (units !== undefined) return units * UNIT_MS;
      }
      const key = kind === 'stop' && killed.has(vm) ? 'kill' : VM_ATTRIBUTE[kind];
      return ms(key && own ? positive(own[key]) : undefined);
    },
    ...(network ? { migration: (vm: string, from: string, to: string) => ms(network.between(vm, from, to)) } : {}),
    node(node, kind) {
      return ms(positive(nodeAttributes.get(node)?.[kind === 'bootNode' ? 'boot' : 'shutdown']));
    },
  };
}
