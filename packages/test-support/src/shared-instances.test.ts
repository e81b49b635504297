import { describe, expect, it } from 'vitest';
import {
  btrplaceImportContext,
  contextSwitch,
  exportContextOf,
  readBtrPlaceInstance,
  readBtrPlacePlan,
  verifyPlan,
  writeBtrPlacePlan,
} from '@entropy/engine';
import { readSharedInstance, sharedInstances, sharedInstancesDir } from './shared-instances.ts';

const files = sharedInstances();
const dir = sharedInstancesDir();
if (!dir) console.warn('shared/btrplace is absent beside the repository: the BtrPlace workload tests are skipped');

// BtrPlace's published workloads (li: load increase, nr: node repair, issue-100: 5 dimensions).
describe.skipIf(files.length === 0)('BtrPlace workload instances', () => {
  for (const file of files) {
    it(`${file.split('/').pop()}: imports, solves, and its plan verifies with every constraint`, () => {
      const i = readBtrPlaceInstance(readSharedInstance(file), file);
      const plan = contextSwitch(i.configuration, i.decision, i.costModel, {
        constraints: i.constraints,
        durations: i.durations,
        ...(i.network ? { network: i.network } : {}),
      });
      if (!plan.feasible) throw new Error(plan.reason);
      const options = i.network ? { network: i.network } : {};
      // Over a network view, each migration lasts CNetwork's duration for its route's bandwidth.
      if (i.network)
        for (const a of plan.actions)
          if (a.type === 'migrate') expect(a.end - a.start).toBe(i.durations.migration!(a.vm, a.from!, a.to!));
      expect(verifyPlan(i.configuration, i.decision, plan, i.constraints, options)).toEqual({ ok: true });
      expect(plan.mttr).toBeGreaterThan(0);
      const exported = writeBtrPlacePlan(plan, exportContextOf(i)) as {
        actions: { id: string; start: number; end: number }[];
      };
      const kinds = new Set(exported.actions.map((a) => a.id));
      expect(
        [...kinds].every((k) =>
          ['migrateVM', 'bootVM', 'allocate', 'shutdownVM', 'bootNode', 'shutdownNode'].includes(k),
        ),
      ).toBe(true);
      // MTTR in BtrPlace's units is the sum of its actions' ends (allocations take no time: they mark an instant).
      const timed = exported.actions.filter((a) => a.id !== 'allocate');
      expect(timed.reduce((s, a) => s + a.end, 0)).toBe(plan.mttr! / 1000);
      // The export as BtrPlace reads it: allocations of staying VMs once their node has room (capacity over time).
      const read = readBtrPlacePlan(exported, file, btrplaceImportContext(i.configuration));
      expect(verifyPlan(i.configuration, i.decision, read, i.constraints, options)).toEqual({ ok: true });
    });
  }
});
