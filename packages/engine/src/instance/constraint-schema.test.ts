import { describe, expect, it } from 'vitest';
import { InvalidInputError } from '@entropy/protocol';
import { contextSwitch } from '../solver/context-switch.ts';
import { DEFAULT_COST_MODEL } from '../model/cost-model.ts';
import { parseInstance } from './parse-instance.ts';
import { verifyPlan } from '../verifier/index.ts';
import { CONSTRAINT_TYPE_NAMES, resolvedConstraintsSchema } from './constraint-schema.ts';
import { CONSTRAINT_TYPES } from '../constraints/registry.ts';

/** An instance of three nodes and two vjobs (j1: a1, a2, a3 running; j2: b1, b2 waiting) with the given constraints. */
const instance = (constraints: unknown[]) => ({
  nodes: ['n1', 'n2', 'n3'].map((id) => ({ id, cpu: 8, mem: 8192 })),
  vms: [
    { id: 'a1', vjob: 'j1', cpu: 1, mem: 512, state: 'running', host: 'n1' },
    { id: 'a2', vjob: 'j1', cpu: 1, mem: 512, state: 'running', host: 'n1' },
    { id: 'a3', vjob: 'j1', cpu: 1, mem: 512, state: 'running', host: 'n2' },
    { id: 'b1', vjob: 'j2', cpu: 1, mem: 512, state: 'waiting' },
    { id: 'b2', vjob: 'j2', cpu: 1, mem: 512, state: 'waiting' },
  ],
  vjobs: [{ id: 'j1' }, { id: 'j2' }],
  decision: { j2: 'running' },
  constraints,
});

/** The one-line messages of a file that does not parse. */
function errorsOf(constraints: unknown[]): string[] {
  try {
    parseInstance(instance(constraints), 'c.json');
  } catch (err) {
    expect(err).toBeInstanceOf(InvalidInputError);
    return (err as InvalidInputError).issues.map((i) => `${i.path}: ${i.reason}`);
  }
  throw new Error('expected parseInstance to throw');
}

describe('constraints in an Entropy instance file', () => {
  it('the schema knows every type of the catalog, in its order', () => {
    expect([...CONSTRAINT_TYPE_NAMES].sort()).toEqual([...CONSTRAINT_TYPES].sort());
  });

  it("expands the vjob shorthand and takes BtrPlace's default for continuous", () => {
    const { constraints } = parseInstance(
      instance([
        { type: 'ban', vjob: 'j2', nodes: ['n1'] },
        { type: 'spread', vjob: 'j1' },
        { type: 'gather', vms: ['b1', 'b2'], continuous: true },
        { type: 'split', parts: [{ vjob: 'j1' }, ['b1']] },
        { type: 'runningCapacity', nodes: ['n3'], amount: 0 },
        { type: 'overbook', node: 'n2', rc: 'cpu', ratio: 2 },
      ]),
    );
    expect(constraints).toEqual([
      { type: 'ban', vm: 'b1', nodes: ['n1'], continuous: false },
      { type: 'ban', vm: 'b2', nodes: ['n1'], continuous: false },
      { type: 'spread', vms: ['a1', 'a2', 'a3'], continuous: true },
      { type: 'gather', vms: ['b1', 'b2'], continuous: true },
      { type: 'split', parts: [['a1', 'a2', 'a3'], ['b1']], continuous: false },
      { type: 'runningCapacity', nodes: ['n3'], amount: 0, continuous: false },
      { type: 'overbook', node: 'n2', rc: 'cpu', ratio: 2, continuous: true },
    ]);
  });

  it('names the JSON path and the reason of each bad constraint', () => {
    expect(
      errorsOf([
        { type: 'ban', vm: 'a1', nodes: ['n1'] },
        { type: 'fence', vm: 'a1', nodes: ['n1'] },
        { type: 'ban', vm: 'a1', nodes: ['n1', 'n9'] },
        { type: 'spread', vms: ['a1', 'zz'] },
        { type: 'spread', vjob: 'j7' },
        { type: 'spread' },
        { type: 'ban', vm: 'a1', vjob: 'j1', nodes: [] },
        { type: 'among', vms: ['a1'], parts: [['n1', 'n2'], ['n2']] },
        { type: 'online', node: 'n4' },
      ]),
    ).toEqual([
      "$.constraints[2].nodes[1]: node 'n9' is not in the instance",
      "$.constraints[3].vms[1]: VM 'zz' is not in the instance",
      "$.constraints[4].vjob: vjob 'j7' is not in the instance",
      "$.constraints[5].vms: is required (or 'vjob' for every VM of a vjob)",
      "$.constraints[6].vjob: give either 'vm' or 'vjob', not both",
      "$.constraints[7].parts[1]: 'n2' is in two parts (parts must be disjoint)",
      "$.constraints[8].node: node 'n4' is not in the instance",
    ]);
  });

  it('an unknown or missing type lists the known ones; wrong fields are named', () => {
    const [unknown, missing, extra, amount, ratio] = errorsOf([
      { type: 'colocate', vms: ['a1'] },
      { vms: ['a1'] },
      { type: 'root', vm: 'a1', nodes: ['n1'] },
      { type: 'runningCapacity', nodes: ['n1'], amount: 1.5 },
      { type: 'overbook', node: 'n1', rc: 'cpu', ratio: 0.5 },
    ]);
    expect(unknown).toBe(
      `$.constraints[0].type: unknown constraint type "colocate" (one of ${CONSTRAINT_TYPE_NAMES.join(', ')})`,
    );
    expect(missing).toMatch(/^\$\.constraints\[1\]\.type: is required \(one of online, offline, /);
    expect(extra).toBe("$.constraints[2].nodes: unknown field 'nodes'");
    expect(amount).toBe('$.constraints[3].amount: must be an integer');
    expect(ratio).toBe('$.constraints[4].ratio: must be at least 1');
  });

  it('plans and verifies an instance under its constraints: the spread moves a VM, the ban keeps b1 and b2 off n1', () => {
    const i = parseInstance(
      instance([
        { type: 'spread', vjob: 'j1' },
        { type: 'ban', vjob: 'j2', nodes: ['n1', 'n2'] },
      ]),
    );
    const plan = contextSwitch(i.configuration, i.decision, DEFAULT_COST_MODEL, { constraints: i.constraints! });
    expect(plan.feasible).toBe(true);
    if (!plan.feasible) return;
    expect(verifyPlan(i.configuration, i.decision, plan, i.constraints)).toEqual({ ok: true });
    // The same plan breaks the spread when a2 is asked to stay with a1.
    const without = contextSwitch(i.configuration, i.decision, DEFAULT_COST_MODEL);
    expect(without.feasible).toBe(true);
    if (without.feasible) expect(verifyPlan(i.configuration, i.decision, without, i.constraints).ok).toBe(false);
  });
});

describe('resolvedConstraintsSchema (constraints as stored)', () => {
  it('reads stored constraints back and refuses a vjob shorthand', () => {
    expect(resolvedConstraintsSchema.parse([{ type: 'root', vm: 'v1' }])).toEqual([{ type: 'root', vm: 'v1' }]);
    const bad = resolvedConstraintsSchema.safeParse([{ type: 'root', vjob: 'j1' }]);
    expect(bad.success).toBe(false);
  });
});
