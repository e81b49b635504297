import { describe, expect, it } from 'vitest';
import { ErrorCode, InvalidInputError } from '@entropy/protocol';
import { btrplaceImportContext, isBtrPlacePlan, readBtrPlacePlan } from './read-plan.ts';
import { readBtrPlaceInstance } from './read-instance.ts';
import { tinyInstance } from '@entropy/test-support/btrplace-fixtures.ts';

const ctx = btrplaceImportContext(readBtrPlaceInstance(tinyInstance()).configuration);
const read = (actions: unknown[]) => readBtrPlacePlan({ origin: {}, actions }, 'plan.json', ctx);

function issueOf(actions: unknown): string {
  try {
    readBtrPlacePlan({ actions }, 'plan.json', ctx);
  } catch (err) {
    expect(err).toBeInstanceOf(InvalidInputError);
    expect((err as InvalidInputError).code).toBe(ErrorCode.InvalidPlan);
    return (err as InvalidInputError).message;
  }
  throw new Error('expected an InvalidInputError');
}

describe('readBtrPlacePlan', () => {
  it("maps BtrPlace's ids and time units to the instance's names and milliseconds, steps following start times", () => {
    const plan = read([
      {
        id: 'migrateVM',
        start: 2,
        end: 5,
        vm: 0,
        from: 0,
        to: 1,
        hooks: { pre: [], post: [{ id: 'allocate', vm: 0, rc: 'cpu', amount: 6 }] },
      },
      { id: 'bootNode', start: 0, end: 2, node: 2 },
      { id: 'bootVM', start: 2, end: 9, vm: 2, on: 2 },
      { id: 'killVM', start: 0, end: 1, vm: 1, on: 0 },
      { id: 'allocate', start: 0, end: 0, vm: 0, rc: 'mem', amount: 200, on: 0 },
    ]);
    expect(plan.actions).toEqual([
      {
        id: 'a0',
        type: 'migrate',
        vm: 'vm0',
        vjob: 'vm0',
        from: 'n0',
        to: 'n1',
        start: 2000,
        end: 5000,
        step: 1,
        dependsOn: [],
      },
      { id: 'a2', type: 'run', vm: 'vm2', vjob: 'vm2', to: 'n2', start: 2000, end: 9000, step: 1, dependsOn: [] },
      { id: 'a3', type: 'stop', vm: 'vm1', vjob: 'vm1', from: 'n0', start: 0, end: 1000, step: 0, dependsOn: [] },
    ]);
    expect(plan.nodeActions).toEqual([
      { id: 'a1', type: 'bootNode', node: 'n2', start: 0, end: 2000, step: 0, dependsOn: [] },
    ]);
    expect(plan).toMatchObject({ feasible: true, steps: 2, makespan: 9000 });
  });

  it("puts back Entropy's pause before a suspend and unpause after a resume, a step apart from them", () => {
    const plan = read([
      { id: 'suspendVM', start: 0, end: 1, vm: 1, from: 0, to: 0 },
      { id: 'resumeVM', start: 0, end: 3, vm: 3, from: 0, to: 1 },
    ]);
    expect(plan.actions.map((a) => `${a.type} ${a.vm} ${a.start}-${a.end} step ${a.step}`)).toEqual([
      'suspend vm1 0-1000 step 1',
      'resume vm3 0-3000 step 0',
      'pause vm1 0-0 step 0',
      'unpause vm3 3000-3000 step 2',
    ]);
    expect(plan.steps).toBe(3);
  });

  it.each([
    [
      'an unknown action',
      [{ id: 'teleportVM', start: 0, end: 1, vm: 0 }],
      "$.actions[0].id: unknown action 'teleportVM'",
    ],
    ['a missing VM', [{ id: 'bootVM', start: 0, end: 1, on: 0 }], '$.actions[0].vm: is missing'],
    [
      'a fractional node id',
      [{ id: 'migrateVM', start: 0, end: 1, vm: 0, from: 0, to: 1.5 }],
      '$.actions[0].to: must be an integer, got 1.5',
    ],
    ['a negative start', [{ id: 'bootNode', start: -1, end: 1, node: 2 }], '$.actions[0].start: must not be negative'],
    [
      'an end before the start',
      [{ id: 'bootNode', start: 3, end: 1, node: 2 }],
      '$.actions[0].end: ends (1) before it starts (3)',
    ],
    [
      'a suspend onto another node',
      [{ id: 'suspendVM', start: 0, end: 1, vm: 1, from: 0, to: 1 }],
      '$.actions[0].to: suspending a VM onto another node is not supported',
    ],
    ['actions that are not an array', { bootVM: 1 }, '$.actions: must be an array'],
  ])('rejects %s on one line naming its JSON path', (_what, actions, expected) => {
    const message = issueOf(actions);
    expect(message).toContain(`plan.json: ${expected}`);
    expect(message).not.toContain('\n');
  });
});

describe('isBtrPlacePlan', () => {
  it("tells BtrPlace's plan JSON (actions, no feasible flag) from Entropy's", () => {
    expect(isBtrPlacePlan({ origin: {}, actions: [] })).toBe(true);
    expect(isBtrPlacePlan({ feasible: true, actions: [], steps: 0 })).toBe(false);
    expect(isBtrPlacePlan({ feasible: false, reason: 'x', solveMs: 0 })).toBe(false);
    expect(isBtrPlacePlan([])).toBe(false);
  });
});
