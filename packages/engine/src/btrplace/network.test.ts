import { describe, expect, it } from 'vitest';
import type { FeasiblePlan } from '../model/plan.ts';
import { contextSwitch } from '../solver/context-switch.ts';
import { verifyPlan } from '../verifier/index.ts';
import { btrplaceImportContext, readBtrPlacePlan } from './read-plan.ts';
import { readBtrPlaceInstance } from './read-instance.ts';
import { exportContextOf, writeBtrPlacePlan } from './write-plan.ts';
import { hosting, linkedNode, networkInstance } from '@entropy/test-support/btrplace-fixtures.ts';

function plan(instance: unknown): { i: ReturnType<typeof readBtrPlaceInstance>; plan: FeasiblePlan } {
  const i = readBtrPlaceInstance(instance);
  const p = contextSwitch(i.configuration, i.decision, i.costModel, {
    constraints: i.constraints,
    durations: i.durations,
    ...(i.network ? { network: i.network } : {}),
  });
  if (!p.feasible) throw new Error(p.reason);
  return { i, plan: p };
}

describe("BtrPlace's network view", () => {
  it('routes a migration over the source link (outbound) and the destination link (inbound) at the smallest bandwidth', () => {
    const { network } = readBtrPlaceInstance(networkInstance());
    const route = network!.route('n0', 'n3')!;
    expect(route.bandwidth).toBe(500);
    expect(route.elements.map((e) => network!.elements[e]!.name)).toEqual([
      'link 10 (n0, outbound)',
      'link 13 (n3, inbound)',
    ]);
    expect(network!.route('n0', 'n0')).toBeUndefined();
  });

  it('finds the path across switches depth first, counting a switch of limited capacity and capping the bandwidth by it', () => {
    const instance = networkInstance();
    // Nodes 0, 1 on switch 0; nodes 2, 3 on switch 1 (capacity 800), joined by link 20 (capacity 2000).
    instance.model.views[1] = {
      id: 'net',
      switches: [
        { id: 0, capacity: -1 },
        { id: 1, capacity: 800 },
      ],
      links: [
        { id: 10, capacity: 1000, switch: 0, physicalElement: linkedNode(0) },
        { id: 11, capacity: 1000, switch: 0, physicalElement: linkedNode(1) },
        { id: 20, capacity: 2000, switch: 0, physicalElement: { id: 1, type: 'switch' } },
        { id: 12, capacity: 1000, switch: 1, physicalElement: linkedNode(2) },
        { id: 13, capacity: 1000, switch: 1, physicalElement: linkedNode(3) },
      ],
      routing: { type: 'default' },
    };
    const { network } = readBtrPlaceInstance(instance);
    const names = (from: string, to: string) =>
      network!.route(from, to)!.elements.map((e) => network!.elements[e]!.name);
    expect(names('n0', 'n1')).toEqual(['link 10 (n0, outbound)', 'link 11 (n1, inbound)']);
    expect(names('n0', 'n2')).toEqual([
      'link 10 (n0, outbound)',
      'link 20 (down)',
      'link 12 (n2, inbound)',
      'switch 1',
    ]);
    expect(names('n2', 'n0')).toEqual(['link 12 (n2, outbound)', 'link 20 (up)', 'link 10 (n0, inbound)', 'switch 1']);
    expect(network!.route('n0', 'n1')!.bandwidth).toBe(1000);
    expect(network!.route('n3', 'n2')!.bandwidth).toBe(800);
  });

  it("reads static routes, and names an unknown routing's type", () => {
    const instance = networkInstance();
    const net = instance.model.views[1] as Record<string, unknown>;
    net.routing = {
      type: 'static',
      routes: [
        {
          nodes_map: { src: 0, dst: 1 },
          links: [
            { link: 10, direction: 'true' },
            { link: 11, direction: 'false' },
          ],
        },
      ],
    };
    const { network } = readBtrPlaceInstance(instance);
    expect(network!.route('n0', 'n1')!.elements.map((e) => network!.elements[e]!.name)).toEqual([
      'link 10 (n0, outbound)',
      'link 11 (n1, inbound)',
    ]);
    expect(network!.route('n0', 'n2')).toBeUndefined();
    net.routing = { type: 'ospf' };
    expect(() => readBtrPlaceInstance(instance, 'i.json')).toThrow(
      "$.model.views[1].routing.type: unknown routing 'ospf' (supported: default, static)",
    );
  });

  it("schedules migrations sharing a link one after another, each lasting CNetwork's duration for its bandwidth", () => {
    const { i, plan: p } = plan(networkInstance());
    const migrations = p.actions.filter((a) => a.type === 'migrate');
    expect(migrations).toHaveLength(3);
    // 1000 MB over 1000 Mbit/s: 9 units; over node 3's 500 link: 18.
    for (const m of migrations) expect(m.end - m.start).toBe(m.to === 'n3' ? 18_000 : 9_000);
    // All leave node 0 over its one outbound link: never two at once, each depending on the one before.
    const byStart = [...migrations].sort((a, b) => a.start - b.start);
    for (let k = 1; k < byStart.length; k++) {
      expect(byStart[k]!.start).toBeGreaterThanOrEqual(byStart[k - 1]!.end);
      expect(byStart[k]!.dependsOn).toContain(byStart[k - 1]!.id);
    }
    expect(verifyPlan(i.configuration, i.decision, p, i.constraints, { network: i.network! })).toEqual({ ok: true });
  });

  it('runs migrations on disjoint links at once', () => {
    const instance = networkInstance();
    instance.model.mapping.onlineNodes['0'].runningVMs = [0, 2];
    instance.model.mapping.onlineNodes['1'].runningVMs = [1];
    instance.constraints = [
      { id: 'ban', vm: 0, nodes: [0, 1, 3] },
      { id: 'ban', vm: 1, nodes: [0, 1, 2] },
    ];
    const { plan: p } = plan(instance);
    expect(p.actions.map((a) => [a.vm, a.from, a.to, a.start])).toEqual([
      ['vm0', 'n0', 'n2', 0],
      ['vm1', 'n1', 'n3', 0],
    ]);
  });

  it('spreads migrations from different nodes over destinations of equal cost, so that they do not queue on one inbound link', () => {
    const instance = networkInstance([1000, 1000, 1000, 1000]);
    instance.model.mapping.onlineNodes['0'] = hosting(0, 2);
    instance.model.mapping.onlineNodes['1'] = hosting(1);
    instance.constraints = [
      { id: 'ban', vm: 0, nodes: [0, 1] },
      { id: 'ban', vm: 1, nodes: [0, 1] },
    ];
    const { i, plan: p } = plan(instance);
    const moves = p.actions.filter((a) => a.type === 'migrate');
    expect(moves.map((a) => [a.vm, a.from, a.start])).toEqual([
      ['vm0', 'n0', 0],
      ['vm1', 'n1', 0],
    ]);
    expect(moves[0]!.to).not.toBe(moves[1]!.to);
    expect(verifyPlan(i.configuration, i.decision, p, i.constraints, { network: i.network! })).toEqual({ ok: true });
    // The same VMs move as without a network: the placement cost is the same.
    instance.model.views.splice(1, 1);
    expect(plan(instance).plan.stats?.finalCost).toBe(p.stats?.finalCost);
  });

  it("refuses a plan whose concurrent migrations exceed a link, naming the link; the export carries each migration's bandwidth", () => {
    const { i, plan: p } = plan(networkInstance());
    const exported = writeBtrPlacePlan(p, exportContextOf(i)) as { actions: Record<string, unknown>[] };
    expect(exported.actions.map((a) => a.bw)).toEqual(p.actions.map((a) => (a.to === 'n3' ? 500 : 1000)));
    const atOnce = {
      actions: exported.actions.map((a) => ({ ...a, end: (a.end as number) - (a.start as number), start: 0 })),
    };
    const read = readBtrPlacePlan(atOnce, 'plan.json', btrplaceImportContext(i.configuration));
    expect(verifyPlan(i.configuration, i.decision, read, i.constraints, { network: i.network! })).toMatchObject({
      ok: false,
      violation: {
        kind: 'network',
        at: 0,
        message:
          "link 10 (n0, outbound) carries 3000 > capacity 1000 at t=0 (action 'a2' migrates VM 'vm2' from 'n0' to 'n1' over it)",
      },
    });
    // Without the network, the same plan is fine: only the network view bounds bandwidth.
    expect(verifyPlan(i.configuration, i.decision, read, i.constraints)).toEqual({ ok: true });
  });

  it('leaves an instance without a network view as before: migrations at once, no bandwidth in the export', () => {
    const instance = networkInstance();
    instance.model.views.splice(1, 1);
    const { i, plan: p } = plan(instance);
    expect(i.network).toBeUndefined();
    expect(p.actions.map((a) => [a.start, a.end])).toEqual([
      [0, 1000],
      [0, 1000],
      [0, 1000],
    ]);
    const exported = writeBtrPlacePlan(p, exportContextOf(i)) as { actions: Record<string, unknown>[] };
    expect(exported.actions.every((a) => !('bw' in a))).toBe(true);
  });
});
