import { describe, expect, it } from 'vitest';
import { ErrorCode, InvalidInputError } from '@entropy/protocol';
import { parsePlan } from './parse-plan.ts';

const migrate = {
  id: 'a1',
  type: 'migrate',
  vm: 'v1',
  vjob: 'j1',
  from: 'n1',
  to: 'n2',
  start: 0,
  end: 1024,
  step: 0,
  dependsOn: [],
};
const feasible = { feasible: true, actions: [migrate], steps: 1, makespan: 1024, sumCompletion: 1024, solveMs: 3 };

function issuesOf(json: unknown): readonly { path: string; reason: string }[] {
  try {
    parsePlan(json, 'plan.json');
  } catch (err) {
    expect(err).toBeInstanceOf(InvalidInputError);
    expect((err as InvalidInputError).code).toBe(ErrorCode.InvalidPlan);
    return (err as InvalidInputError).issues;
  }
  throw new Error('expected parsePlan to throw');
}

describe('parsePlan', () => {
  it('reads the plan file of DESIGN.md, with dependsOn optional and a target', () => {
    const { dependsOn: _, ...noDeps } = migrate;
    const plan = parsePlan({ ...feasible, actions: [noDeps], target: { v1: { state: 'running', host: 'n2' } } });
    expect(plan).toMatchObject({
      feasible: true,
      steps: 1,
      actions: [{ id: 'a1', dependsOn: [] }],
      target: { v1: { state: 'running', host: 'n2' } },
    });
  });

  it('reads an infeasible plan with its reason', () => {
    expect(parsePlan({ feasible: false, reason: 'node n3 lacks 2048 MiB', solveMs: 1 })).toEqual({
      feasible: false,
      reason: 'node n3 lacks 2048 MiB',
      solveMs: 1,
    });
  });

  it.each([
    [
      'an unknown action type',
      { ...feasible, actions: [{ ...migrate, type: 'teleport' }] },
      '$.actions[0].type',
      'must be one of run, stop',
    ],
    [
      'a negative start',
      { ...feasible, actions: [{ ...migrate, start: -5 }] },
      '$.actions[0].start',
      'must not be negative',
    ],
    [
      'a fractional step',
      { ...feasible, actions: [{ ...migrate, step: 0.5 }] },
      '$.actions[0].step',
      'must be an integer',
    ],
    ['an unknown field', { ...feasible, actions: [{ ...migrate, dependson: [] }] }, '$.actions[0]', 'dependson'],
    ['a missing feasible flag', { actions: [] }, '$.feasible', 'must be true or false'],
    [
      'an end before the start',
      { ...feasible, actions: [{ ...migrate, start: 10, end: 5 }] },
      '$.actions[0].end',
      'ends (5) before it starts (10)',
    ],
    [
      'a migrate without destination',
      { ...feasible, actions: [{ ...migrate, to: undefined }] },
      '$.actions[0].to',
      'needs a destination',
    ],
    ['a step beyond the step count', { ...feasible, steps: 0 }, '$.actions[0].step', "beyond the plan's 0 steps"],
    [
      'an unknown dependency',
      { ...feasible, actions: [{ ...migrate, dependsOn: ['a0'] }] },
      '$.actions[0].dependsOn[0]',
      "unknown action 'a0'",
    ],
    [
      'a duplicate action id',
      { ...feasible, actions: [migrate, { ...migrate, vm: 'v2' }] },
      '$.actions[1].id',
      "duplicate action id 'a1'",
    ],
    [
      'a bad target state',
      { ...feasible, target: { v1: { state: 'paused' } } },
      '$.target.v1.state',
      'must be one of waiting',
    ],
  ])('rejects %s, naming its JSON path', (_what, json, path, fragment) => {
    const issues = issuesOf(json);
    expect(issues[0]).toMatchObject({ path });
    expect(issues[0]!.reason).toContain(fragment);
  });

  it('names the file in the error message', () => {
    expect(() => parsePlan({ ...feasible, steps: -1 }, 'plan.json')).toThrow(
      /^plan\.json: \$\.steps: must not be negative/,
    );
  });
});
