import { describe, expect, it } from 'vitest';
import { contextSwitch } from '../solver/context-switch.ts';
import { ErrorCode, InvalidInputError } from '@entropy/protocol';
import { verifyPlan } from '../verifier/index.ts';
import { readBtrPlaceInstance } from './read-instance.ts';
import { tinyInstance } from '@entropy/test-support/btrplace-fixtures.ts';

function issuesOf(f: () => unknown): string[] {
  try {
    f();
  } catch (err) {
    expect(err).toBeInstanceOf(InvalidInputError);
    expect((err as InvalidInputError).code).toBe(ErrorCode.InvalidInstance);
    return (err as InvalidInputError).issues.map((i) => `${i.path}: ${i.reason}`);
  }
  throw new Error('expected an InvalidInputError');
}

describe('readBtrPlaceInstance', () => {
  it('reads the mapping, the shareable resources with their defaults, and one vjob per VM', () => {
    const i = readBtrPlaceInstance(tinyInstance());
    expect(i.configuration.nodes).toEqual([
      { id: 'n0', state: 'online', capacity: { cpu: 8, mem: 1024 } },
      { id: 'n1', state: 'online', capacity: { cpu: 4, mem: 1024 } },
      { id: 'n2', state: 'offline', capacity: { cpu: 8, mem: 1024 } },
    ]);
    expect(i.configuration.vms).toEqual([
      { id: 'vm0', vjob: 'vm0', state: 'running', host: 'n0', demand: { cpu: 5, mem: 100 } },
      { id: 'vm1', vjob: 'vm1', state: 'running', host: 'n0', demand: { cpu: 1, mem: 100 } },
      { id: 'vm2', vjob: 'vm2', state: 'waiting', demand: { cpu: 1, mem: 100 } },
      { id: 'vm3', vjob: 'vm3', state: 'sleeping', host: 'n0', demand: { cpu: 1, mem: 100 } },
    ]);
    expect(i.configuration.vjobs.map((j) => j.vms)).toEqual([['vm0'], ['vm1'], ['vm2'], ['vm3']]);
  });

  it('takes action durations from the attributes, 1 time unit (1000 ms) where none is given', () => {
    const i = readBtrPlaceInstance(tinyInstance());
    expect(i.durations.vm!('vm0', 'migrate')).toBe(3000);
    expect(i.durations.vm!('vm2', 'run')).toBe(7000);
    expect(i.durations.vm!('vm1', 'migrate')).toBeUndefined();
    expect(i.costModel.migrate).toEqual({ base: 1000, perMiB: 0 });
    expect(i.durations.node!('n2', 'bootNode')).toBe(20000);
  });

  it('turns state constraints into the decision: running starts a ready VM, ready stops a running one', () => {
    const i = readBtrPlaceInstance(
      tinyInstance([
        { id: 'running', vm: 2 },
        { id: 'ready', vm: 1 },
        { id: 'killed', vm: 3 },
      ]),
    );
    expect(i.decision).toEqual({ vm2: 'running', vm1: 'terminated', vm3: 'terminated' });
    expect([...i.killed]).toEqual(['vm3']);
  });

  it('reads every constraint of the catalog', () => {
    const all = [
      { id: 'online', node: 2 },
      { id: 'offline', node: 1 },
      { id: 'running', vm: 2 },
      { id: 'sleeping', vm: 3 },
      { id: 'preserve', vm: 0, rc: 'cpu', amount: 6 },
      { id: 'spread', vms: [0, 1], continuous: true },
      { id: 'among', vms: [0, 1], parts: [[0], [1, 2]], continuous: false },
      { id: 'split', parts: [[0], [1]], continuous: false },
      { id: 'splitAmong', vParts: [[0], [1]], pParts: [[0], [1]], continuous: false },
      { id: 'gather', vms: [0, 1], continuous: false },
      { id: 'ban', vm: 0, nodes: [1], continuous: false },
      { id: 'fence', vm: 0, nodes: [0, 2], continuous: false },
      { id: 'lonely', vms: [0], continuous: false },
      { id: 'root', vm: 1 },
      { id: 'quarantine', node: 0 },
      { id: 'resourceCapacity', nodes: [0, 1], rc: 'cpu', amount: 10, continuous: false },
      { id: 'runningCapacity', nodes: [0], amount: 3, continuous: false },
      { id: 'maxOnline', nodes: [0, 1, 2], amount: 2, continuous: false },
      { id: 'overbook', node: 0, rc: 'cpu', ratio: 1.5, continuous: true },
      { id: 'ready', vm: 1 },
      { id: 'killed', vm: 3 },
    ];
    const i = readBtrPlaceInstance(tinyInstance(all));
    expect(i.constraints.map((c) => c.type)).toEqual(all.map((c) => c.id));
    expect(i.constraints[6]).toEqual({
      type: 'among',
      vms: ['vm0', 'vm1'],
      parts: [['n0'], ['n1', 'n2']],
      continuous: false,
    });
  });

  it('rejects an unknown constraint id, naming its path', () => {
    expect(
      issuesOf(() =>
        readBtrPlaceInstance(tinyInstance([{ id: 'spread', vms: [0, 1], continuous: true }, { id: 'foo' }]), 'i.json'),
      ),
    ).toEqual(["$.constraints[1].id: unknown constraint 'foo'"]);
    expect(issuesOf(() => readBtrPlaceInstance(tinyInstance([{ id: 'seq', vms: [0, 1] }])))).toEqual([
      "$.constraints[0].id: constraint 'seq' is not supported by Entropy",
    ]);
  });

  it('rejects unknown elements and malformed fields, naming their paths', () => {
    expect(issuesOf(() => readBtrPlaceInstance(tinyInstance([{ id: 'ban', vm: 9, nodes: [1, 'x'] }])))).toEqual([
      '$.constraints[0].vm: unknown VM 9',
      '$.constraints[0].nodes[1]: must be an integer, got "x"',
    ]);
    const bad = tinyInstance();
    (bad.model.views[0] as Record<string, unknown>).vms = { '7': 1 };
    (bad.model.views as unknown[]).push({ id: 'weird' });
    expect(issuesOf(() => readBtrPlaceInstance(bad))).toEqual([
      '$.model.views[0].vms.7: unknown VM 7',
      "$.model.views[3].id: unknown view 'weird' (supported: shareableResource, net, ns)",
    ]);
    expect(
      issuesOf(() =>
        readBtrPlaceInstance({
          model: {
            mapping: { onlineNodes: { '0': { runningVMs: [1], sleepingVMs: [] } }, offlineNodes: [], readyVMs: [1] },
          },
        }),
      ),
    ).toEqual([
      '$.model.mapping.readyVMs[0]: VM 1 is declared twice',
      '$.model.views: is missing',
      '$.constraints: is missing',
    ]);
    expect(issuesOf(() => readBtrPlaceInstance(tinyInstance([], { objective: { id: 'fastest' } })))).toEqual([
      "$.objective.id: unknown objective 'fastest' (supported: minimizeMTTR, minimizeMigrations)",
    ]);
  });

  it('plans an instance whose constraints ask for a boot, a start and an evacuation, and the plan verifies', () => {
    const i = readBtrPlaceInstance(
      tinyInstance([
        { id: 'online', node: 2 },
        { id: 'running', vm: 2 },
        { id: 'offline', node: 1 },
        { id: 'fence', vm: 2, nodes: [2] },
      ]),
    );
    const plan = contextSwitch(i.configuration, i.decision, i.costModel, {
      constraints: i.constraints,
      durations: i.durations,
    });
    if (!plan.feasible) throw new Error(plan.reason);
    expect(plan.nodeActions!.map((a) => `${a.type} ${a.node} ${a.start}-${a.end}`).sort()).toEqual([
      'bootNode n2 0-20000',
      'shutdownNode n1 0-1000',
    ]);
    expect(plan.actions.map((a) => `${a.type} ${a.vm} ${a.to} ${a.start}-${a.end}`)).toEqual([
      'run vm2 n2 20000-27000',
    ]);
    expect(plan.mttr).toBe(20000 + 1000 + 27000);
    expect(verifyPlan(i.configuration, i.decision, plan, i.constraints)).toEqual({ ok: true });
  });
});
