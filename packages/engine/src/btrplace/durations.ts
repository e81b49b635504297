import type { ActionDurations } from '../model/problem.ts';
import type { CostKind } from '../model/cost-model.ts';
import { costModelWith, type CostModel } from '../model/cost-model.ts';
import { UNIT_MS } from './ids.ts';

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
 * `boot` and `shutdown` on nodes. `migrationUnits` gives a migration's duration when a network view
 * computes it.
 */
export function attributeDurations(
  vmAttributes: Attributes,
  nodeAttributes: Attributes,
  killed: ReadonlySet<string>,
  migrationUnits?: (vm: string) => number | undefined,
): ActionDurations {
  return {
    vm(vm, kind) {
      const own = vmAttributes.get(vm);
      if (kind === 'migrate' && migrationUnits) {
        const units = migrationUnits(vm);
        if (units !== undefined) return units * UNIT_MS;
      }
      const key = kind === 'stop' && killed.has(vm) ? 'kill' : VM_ATTRIBUTE[kind];
      const units = key && own ? positive(own[key]) : undefined;
      return units === undefined ? undefined : units * UNIT_MS;
    },
    node(node, kind) {
      const units = positive(nodeAttributes.get(node)?.[kind === 'bootNode' ? 'boot' : 'shutdown']);
      return units === undefined ? undefined : units * UNIT_MS;
    },
  };
}
