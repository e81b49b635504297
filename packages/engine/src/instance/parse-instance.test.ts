import { describe, expect, it } from 'vitest';
import { EntropyError, ErrorCode, InvalidInputError, type InputIssue } from '@entropy/protocol';
import { DEFAULT_COST_MODEL } from '../model/cost-model.ts';
import { parseInstance } from './parse-instance.ts';

/** A valid instance with one vjob per state and an offline node; each case breaks one thing. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;
const valid = (): Json => ({
  nodes: [
    { id: 'n1', cpu: 8, mem: 16384, state: 'online' },
    { id: 'n2', cpu: 8, mem: 16384, state: 'offline' },
  ],
  vms: [
    { id: 'v1', vjob: 'j1', cpu: 2, mem: 2048, state: 'running', host: 'n1' },
    { id: 'v2', vjob: 'j2', cpu: 2, mem: 2048, state: 'sleeping', host: 'n1' },
    { id: 'v3', vjob: 'j3', cpu: 1, mem: 1024, state: 'waiting' },
    { id: 'v4', vjob: 'j4', cpu: 1, mem: 1024, state: 'terminated' },
  ],
  vjobs: [{ id: 'j1', vms: ['v1'] }, { id: 'j2' }, { id: 'j3' }, { id: 'j4' }],
  decision: { j1: 'sleeping', j2: 'running' },
});

function issuesOf(json: Json, file = 'cluster.json'): readonly InputIssue[] {
  try {
    parseInstance(json, file);
  } catch (err) {
    expect(err).toBeInstanceOf(InvalidInputError);
    const e = err as InvalidInputError;
    expect(e.code).toBe(ErrorCode.InvalidInstance);
    expect(e.file).toBe(file);
    for (const i of e.issues) expect(e.message).toContain(`${i.path}: ${i.reason}`);
    return e.issues;
  }
  throw new Error('expected parseInstance to throw');
}

const stray = () => ({ id: 'v5', cpu: 1, mem: 512, state: 'waiting' });

const edit = (change: (json: Json) => void): Json => {
  const json = valid();
  change(json);
  return json;
};

describe('parseInstance', () => {
  it('accepts a valid instance and fills the defaults', () => {
    const instance = parseInstance(edit((j) => delete j.nodes[0].state));
    expect(instance.configuration.nodes[0]).toEqual({ id: 'n1', capacity: { cpu: 8, mem: 16384 }, state: 'online' });
    expect(instance.configuration.vjobs.map((j) => [j.id, j.vms, j.priority, j.submittedAt])).toEqual([
      ['j1', ['v1'], 0, 0],
      ['j2', ['v2'], 0, 0],
      ['j3', ['v3'], 0, 0],
      ['j4', ['v4'], 0, 0],
    ]);
    expect(instance.decision).toEqual({ j1: 'sleeping', j2: 'running' });
    expect(instance.costModel).toEqual(DEFAULT_COST_MODEL);
  });

  it('merges cost model overrides into the defaults', () => {
    const instance = parseInstance(edit((j) => (j.costModel = { migrate: { perMiB: 2 } })));
    expect(instance.costModel.migrate).toEqual({ base: 0, perMiB: 2 });
    expect(instance.costModel.run).toEqual(DEFAULT_COST_MODEL.run);
  });

  it.each<[string, (json: Json) => void, string, string]>([
    ['an unknown VM host', (j) => (j.vms[0].host = 'n9'), '$.vms[0].host', "unknown node 'n9'"],
    ['an unknown sleeping VM image host', (j) => (j.vms[1].host = 'n9'), '$.vms[1].host', "unknown node 'n9'"],
    ['a duplicate node id', (j) => (j.nodes[1].id = 'n1'), '$.nodes[1].id', "duplicate node id 'n1'"],
    ['a duplicate VM id', (j) => j.vms.push({ ...j.vms[2] }), '$.vms[4].id', "duplicate VM id 'v3'"],
    ['a duplicate vjob id', (j) => j.vjobs.push({ id: 'j2' }), '$.vjobs[4].id', "duplicate vjob id 'j2'"],
    ['a negative node capacity', (j) => (j.nodes[0].mem = -1), '$.nodes[0].mem', 'must not be negative'],
    [
      'a negative extra capacity',
      (j) => (j.nodes[0].resources = { gpu: -1 }),
      '$.nodes[0].resources.gpu',
      'must not be negative',
    ],
    ['a negative VM demand', (j) => (j.vms[0].cpu = -2), '$.vms[0].cpu', 'must not be negative'],
    ['a negative cost', (j) => (j.costModel = { run: { base: -1 } }), '$.costModel.run.base', 'must not be negative'],
    [
      'a VM listed in no vjob',
      (j) => j.vms.push(stray()),
      '$.vms[4]',
      "VM 'v5' is listed in no vjob (set 'vjob' or list it in a vjob's 'vms')",
    ],
    [
      'a VM naming an unknown vjob',
      (j) => j.vms.push({ ...stray(), vjob: 'j9' }),
      '$.vms[4].vjob',
      "unknown vjob 'j9'",
    ],
    ['a vjob listing an unknown VM', (j) => (j.vjobs[0].vms = ['v1', 'v9']), '$.vjobs[0].vms[1]', "unknown VM 'v9'"],
    [
      'a VM listed in two vjobs',
      (j) => (j.vjobs[1].vms = ['v1']),
      '$.vjobs[1].vms[0]',
      "VM 'v1' is already listed in vjob 'j1'",
    ],
    [
      'a VM naming another vjob than the one listing it',
      (j) => (j.vms[0].vjob = 'j2'),
      '$.vms[0].vjob',
      "VM 'v1' names vjob 'j2' but is listed in vjob 'j1'",
    ],
    ['a vjob without VMs', (j) => j.vjobs.push({ id: 'j5' }), '$.vjobs[4]', "vjob 'j5' has no VM"],
    [
      'an unknown decision state',
      (j) => (j.decision.j1 = 'paused'),
      '$.decision.j1',
      'must be one of waiting, running, sleeping, terminated, got "paused"',
    ],
    [
      'an unknown VM state',
      (j) => (j.vms[0].state = 'crashed'),
      '$.vms[0].state',
      'must be one of waiting, running, sleeping, terminated, paused, got "crashed"',
    ],
    ['a paused VM without a host', (j) => (j.vms[2].state = 'paused'), '$.vms[2].host', 'a paused VM needs a host'],
    [
      'a paused VM on an offline node',
      (j) => Object.assign(j.vms[0], { state: 'paused', host: 'n2' }),
      '$.vms[0].host',
      "VM 'v1' is paused on node 'n2', which is offline",
    ],
    [
      'an unknown node state',
      (j) => (j.nodes[0].state = 'down'),
      '$.nodes[0].state',
      'must be one of online, offline, got "down"',
    ],
    ['a decision naming an unknown vjob', (j) => (j.decision.j9 = 'running'), '$.decision.j9', "unknown vjob 'j9'"],
    ['a running VM without a host', (j) => delete j.vms[0].host, '$.vms[0].host', 'a running VM needs a host'],
    ['a sleeping VM without a host', (j) => delete j.vms[1].host, '$.vms[1].host', 'a sleeping VM needs a host'],
    ['a waiting VM with a host', (j) => (j.vms[2].host = 'n1'), '$.vms[2].host', 'a waiting VM must not have a host'],
    [
      'a terminated VM with a host',
      (j) => (j.vms[3].host = 'n1'),
      '$.vms[3].host',
      'a terminated VM must not have a host',
    ],
    [
      'a running VM on an offline node',
      (j) => (j.vms[0].host = 'n2'),
      '$.vms[0].host',
      "VM 'v1' runs on node 'n2', which is offline",
    ],
    ['a string where a number is expected', (j) => (j.nodes[0].cpu = '8'), '$.nodes[0].cpu', 'must be a number'],
    ['a number where a string is expected', (j) => (j.vms[0].id = 1), '$.vms[0].id', 'must be a string'],
    ['a missing field', (j) => delete j.vms[0].mem, '$.vms[0].mem', 'is required'],
    ['an empty id', (j) => (j.nodes[0].id = ''), '$.nodes[0].id', 'must not be empty'],
    [
      'a VM id that is shell code',
      (j) => (j.vms[0].id = "x'; rm -rf / #"),
      '$.vms[0].id',
      `"x'; rm -rf / #" must match ^[A-Za-z0-9_][A-Za-z0-9_.:-]{0,127}$`,
    ],
    [
      'a vjob id starting with a dash',
      (j) => (j.vjobs[0].id = '-rf'),
      '$.vjobs[0].id',
      '"-rf" must match ^[A-Za-z0-9_][A-Za-z0-9_.:-]{0,127}$',
    ],
    ['a node id with a dot', (j) => (j.nodes[0].id = 'n.1'), '$.nodes[0].id', '"n.1" must match ^[A-Za-z0-9_-]{1,64}$'],
    ['an object where an array is expected', (j) => (j.vms = {}), '$.vms', 'must be an array of VMs'],
    ['an unknown node field', (j) => (j.nodes[0].colour = 'red'), '$.nodes[0].colour', "unknown field 'colour'"],
    ['an unknown VM field', (j) => (j.vms[1].image = 'x'), '$.vms[1].image', "unknown field 'image'"],
    ['an unknown top-level field', (j) => (j.policy = 'fcfs'), '$.policy', "unknown field 'policy'"],
    ['an unknown cost kind', (j) => (j.costModel = { boot: { base: 1 } }), '$.costModel.boot', "unknown field 'boot'"],
  ])('rejects %s, naming its path', (_, change, path, reason) => {
    expect(issuesOf(edit(change))).toEqual([{ path, reason }]);
  });

  it.each<[string, string, string, string]>([
    ['terminated', 'running', 'j4', 'v4'],
    ['waiting', 'sleeping', 'j3', 'v3'],
    ['running', 'waiting', 'j1', 'v1'],
    ['sleeping', 'waiting', 'j2', 'v2'],
  ])('rejects a decision from %s to %s, which the life cycle forbids', (from, to, vjob, vm) => {
    const [issue, ...rest] = issuesOf(edit((j) => (j.decision = { [vjob]: to })));
    expect(rest).toEqual([]);
    expect(issue!.path).toBe(`$.decision.${vjob}`);
    expect(issue!.reason).toMatch(
      new RegExp(
        `^vjob '${vjob}': VM '${vm}' is ${from}( \\(never ran\\))?: it cannot go to ${to} \\(from ${from} the life cycle allows `,
      ),
    );
  });

  it('accepts an observed paused VM, and a decision every VM of its vjob can reach', () => {
    const instance = parseInstance(edit((j) => (j.vms[0].state = 'paused')));
    expect(instance.configuration.vms[0]).toMatchObject({ id: 'v1', state: 'paused', host: 'n1' });
    expect(instance.decision).toEqual({ j1: 'sleeping', j2: 'running' });
  });

  it('rejects a decision one VM of a mixed vjob cannot reach, naming that VM', () => {
    // j1 holds a paused VM and one that never ran: running or terminated, but not sleeping.
    const mixed = (decision: string) =>
      edit((j) => {
        j.vms[0].state = 'paused';
        j.vms[2].vjob = 'j1';
        j.vjobs.splice(2, 1);
        j.decision = { j1: decision };
      });
    expect(parseInstance(mixed('running')).decision).toEqual({ j1: 'running' });
    expect(issuesOf(mixed('sleeping'))).toEqual([
      {
        path: '$.decision.j1',
        reason:
          "vjob 'j1': VM 'v3' is waiting (never ran): it cannot go to sleeping (from waiting the life cycle allows waiting, running, terminated)",
      },
    ]);
  });

  it('does not blame a vjob for having no VM when its only VM is rejected', () => {
    expect(issuesOf(edit((j) => (j.vms[2].host = 'n1')))).toEqual([
      { path: '$.vms[2].host', reason: 'a waiting VM must not have a host' },
    ]);
    expect(issuesOf(edit((j) => j.vjobs.push({ id: 'j5', vms: ['v9'] })))).toEqual([
      { path: '$.vjobs[4].vms[0]', reason: "unknown VM 'v9'" },
    ]);
  });

  it('reports every problem in file order, in one error', () => {
    const issues = issuesOf(
      edit((j) => {
        j.vms[0].host = 'n9';
        j.vms[2].vjob = 'j9';
        j.decision = { j4: 'running' };
      }),
    );
    // j3's only VM now names another vjob, so j3 has no VM: a problem of its own.
    expect(issues.map((i) => i.path)).toEqual(['$.vms[0].host', '$.vms[2].vjob', '$.vjobs[2]', '$.decision.j4']);
  });

  it('reports every shape problem before any semantic check', () => {
    const issues = issuesOf(
      edit((j) => {
        j.nodes[0].cpu = 'x';
        j.vms[0].host = 'n9';
        j.vms[1].mem = -5;
      }),
    );
    expect(issues).toEqual([
      { path: '$.nodes[0].cpu', reason: 'must be a number' },
      { path: '$.vms[1].mem', reason: 'must not be negative' },
    ]);
  });

  it('rejects a document that is not an object', () => {
    expect(issuesOf([]).map((i) => i.path)).toEqual(['$']);
    expect(issuesOf(null).map((i) => i.path)).toEqual(['$']);
  });

  it('lists at most 20 problems', () => {
    const json = edit((j) => {
      for (let i = 0; i < 30; i++) j.vms.push({ id: `w${i}`, vjob: 'nowhere', cpu: 1, mem: 1, state: 'waiting' });
    });
    const issues = issuesOf(json);
    expect(issues).toHaveLength(20);
    expect(issues[0]).toEqual({ path: '$.vms[4].vjob', reason: "unknown vjob 'nowhere'" });
  });
});
