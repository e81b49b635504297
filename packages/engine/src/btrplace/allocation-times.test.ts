import { describe, expect, it } from 'vitest';
import { contextSwitch } from '../solver/context-switch.ts';
import { verifyPlan } from '../verifier/index.ts';
import { btrplaceImportContext, readBtrPlacePlan } from './read-plan.ts';
import { readBtrPlaceInstance } from './read-instance.ts';
import { exportContextOf, writeBtrPlacePlan } from './write-plan.ts';
import { loadIncreaseInstance } from '@entropy/test-support/btrplace-fixtures.ts';

interface Exported {
  actions: { id: string; start: number; end: number; vm?: number; from?: number; on?: number; amount?: number }[];
}

function planned() {
  const i = readBtrPlaceInstance(loadIncreaseInstance());
  const plan = contextSwitch(i.configuration, i.decision, i.costModel, {
    constraints: i.constraints,
    durations: i.durations,
  });
  if (!plan.feasible) throw new Error(plan.reason);
  return { i, plan, exported: writeBtrPlacePlan(plan, exportContextOf(i)) as unknown as Exported };
}

describe('allocate actions of VMs that stay', () => {
  it('start once the migrations that free their node have ended, and at 0 where the node has room', () => {
    const { exported } = planned();
    const out = exported.actions.filter((a) => a.id === 'migrateVM' && a.from === 0);
    expect(out.map((a) => [a.vm, a.start, a.end])).toEqual([[2, 0, 5]]);
    const allocates = exported.actions.filter((a) => a.id === 'allocate');
    expect(allocates.map((a) => [a.vm, a.on, a.amount, a.start, a.end])).toEqual([
      [0, 0, 120, 5, 5],
      [1, 0, 70, 5, 5],
      [4, 2, 160, 0, 0],
    ]);
  });

  it('does not delay a raise that fits at once', () => {
    const instance = loadIncreaseInstance();
    // Node 0 holds 100 + 30 + 40 = 170: VM 0's raise to 130 fits without anyone leaving.
    instance.constraints = [{ id: 'preserve', vm: 0, rc: 'uCpu', amount: 130 }];
    instance.model.views[0]!.vms['1'] = 30;
    const i = readBtrPlaceInstance(instance);
    const plan = contextSwitch(i.configuration, i.decision, i.costModel, {
      constraints: i.constraints,
      durations: i.durations,
    });
    if (!plan.feasible) throw new Error(plan.reason);
    const exported = writeBtrPlacePlan(plan, exportContextOf(i)) as unknown as Exported;
    expect(exported.actions.filter((a) => a.id === 'allocate').map((a) => [a.vm, a.start])).toEqual([[0, 0]]);
  });

  it("verifies the exported plan against BtrPlace's capacity over time, allocations included", () => {
    const { i, exported } = planned();
    const read = readBtrPlacePlan(exported, 'plan.json', btrplaceImportContext(i.configuration));
    expect(read.allocations?.map((a) => [a.vm, a.at])).toEqual([
      ['vm0', 5000],
      ['vm1', 5000],
      ['vm4', 0],
    ]);
    expect(verifyPlan(i.configuration, i.decision, read, i.constraints)).toEqual({ ok: true });
  });

  it('refuses an allocate at t=0 while the VM leaving the node still holds its share (li-r3-c0 before the fix)', () => {
    const { i, exported } = planned();
    const early = {
      actions: exported.actions.map((a) => (a.id === 'allocate' && a.vm === 0 ? { ...a, start: 0, end: 0 } : a)),
    };
    const read = readBtrPlacePlan(early, 'plan.json', btrplaceImportContext(i.configuration));
    expect(verifyPlan(i.configuration, i.decision, read, i.constraints)).toMatchObject({
      ok: false,
      violation: {
        kind: 'capacity',
        node: 'n0',
        vm: 'vm0',
        at: 0,
        message: expect.stringContaining(
          "node 'n0' is over capacity in uCpu: usage 220 > capacity 200 at t=0 (allocate 'a0' raises VM 'vm0' to 120 uCpu there)",
        ),
      },
    });
  });

  it('refuses a plan that never raises a staying VM, or raises it below what preserve asks', () => {
    const { i, exported } = planned();
    const verify = (actions: Exported['actions']) =>
      verifyPlan(
        i.configuration,
        i.decision,
        readBtrPlacePlan({ actions }, 'plan.json', btrplaceImportContext(i.configuration)),
        i.constraints,
      );
    const without = exported.actions.filter((a) => !(a.id === 'allocate' && a.vm === 4));
    expect(verify(without)).toMatchObject({
      ok: false,
      violation: {
        kind: 'constraint',
        message: "VM 'vm4' stays on node 'n2' but no allocate raises its uCpu to 160 (preserve)",
      },
    });
    const smaller = exported.actions.map((a) => (a.id === 'allocate' && a.vm === 4 ? { ...a, amount: 155 } : a));
    expect(verify(smaller)).toMatchObject({
      ok: false,
      violation: { kind: 'constraint', message: expect.stringContaining('gives VM') },
    });
  });
});
