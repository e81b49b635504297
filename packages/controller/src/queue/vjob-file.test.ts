import { describe, expect, it } from 'vitest';
import { ErrorCode, InvalidInputError, type InputIssue } from '@entropy/protocol';
import { parseVJobFile } from './vjob-file.ts';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;
const valid = (): Json => ({
  id: 'j1',
  priority: 2,
  vms: [
    { id: 'j1-vm1', cpu: 1, mem: 512 },
    { id: 'j1-vm2', cpu: 0.5, mem: 256, resources: { gpu: 1 } },
  ],
});
const edit = (change: (json: Json) => void): Json => {
  const json = valid();
  change(json);
  return json;
};

function issuesOf(json: Json): readonly InputIssue[] {
  try {
    parseVJobFile(json, 'job.json');
  } catch (err) {
    expect(err).toBeInstanceOf(InvalidInputError);
    const e = err as InvalidInputError;
    expect(e.code).toBe(ErrorCode.InvalidVJob);
    expect(e.file).toBe('job.json');
    for (const i of e.issues) expect(e.message).toContain(`${i.path}: ${i.reason}`);
    return e.issues;
  }
  throw new Error('expected parseVJobFile to throw');
}

describe('parseVJobFile', () => {
  it('accepts a valid vjob: cpu, mem and named resources make the demand; priority defaults to 0', () => {
    expect(parseVJobFile(valid())).toEqual({
      id: 'j1',
      priority: 2,
      vms: [
        { id: 'j1-vm1', demand: { cpu: 1, mem: 512 } },
        { id: 'j1-vm2', demand: { gpu: 1, cpu: 0.5, mem: 256 } },
      ],
    });
    expect(parseVJobFile(edit((j) => delete j.priority)).priority).toBe(0);
  });

  it.each<[string, (j: Json) => void, string, RegExp]>([
    ['not an object', (j) => Object.keys(j).forEach((k) => delete j[k]), '$.id', /is required/],
    ['a missing id', (j) => delete j.id, '$.id', /is required/],
    ['a vjob id that is no subject token', (j) => (j.id = 'j 1'), '$.id', /must be a vjob id/],
    ['a numeric id', (j) => (j.id = 7), '$.id', /must be a string/],
    ['a priority that is not a number', (j) => (j.priority = 'high'), '$.priority', /must be a number/],
    ['no VM list', (j) => delete j.vms, '$.vms', /is required/],
    ['VMs that are not an array', (j) => (j.vms = { a: 1 }), '$.vms', /must be an array of VMs/],
    ['an empty VM list', (j) => (j.vms = []), '$.vms', /at least one VM/],
    ['a VM without mem', (j) => delete j.vms[1].mem, '$.vms[1].mem', /is required/],
    ['a negative cpu', (j) => (j.vms[0].cpu = -1), '$.vms[0].cpu', /must not be negative/],
    ['a cpu given as a string', (j) => (j.vms[0].cpu = '2'), '$.vms[0].cpu', /must be a number/],
    ['a VM id with a slash', (j) => (j.vms[0].id = 'a/b'), '$.vms[0].id', /must be a VM id/],
    [
      'a negative named resource',
      (j) => (j.vms[1].resources.gpu = -2),
      '$.vms[1].resources.gpu',
      /must not be negative/,
    ],
    [
      'cpu repeated in resources',
      (j) => (j.vms[1].resources.cpu = 2),
      '$.vms[1].resources',
      /must not repeat cpu or mem/,
    ],
    ['an unknown VM field', (j) => (j.vms[0].state = 'running'), '$.vms[0].state', /unknown field 'state'/],
    ['an unknown top-level field', (j) => (j.profile = 'x'), '$.profile', /unknown field 'profile'/],
    ['a duplicate VM id', (j) => (j.vms[1].id = 'j1-vm1'), '$.vms[1].id', /duplicate VM id 'j1-vm1'/],
  ])('rejects %s, naming %s', (_what, change, path, reason) => {
    const issues = issuesOf(edit(change));
    const issue = issues.find((i) => i.path === path);
    expect(issue, JSON.stringify(issues)).toBeDefined();
    expect(issue!.reason).toMatch(reason);
  });

  it('rejects JSON that is not an object at all', () => {
    expect(issuesOf([1, 2])[0]).toMatchObject({ path: '$' });
    expect(issuesOf(null)[0]).toMatchObject({ path: '$' });
  });
});

describe("a vjob file's constraints", () => {
  it('resolves them over its own VMs (the vjob shorthand too); node names are free', () => {
    const spec = parseVJobFile(
      edit((j) => {
        j.constraints = [
          { type: 'spread', vjob: 'j1' },
          { type: 'ban', vjob: 'j1', nodes: ['anywhere'] },
          { type: 'fence', vm: 'j1-vm2', nodes: ['n1', 'n2'], continuous: true },
        ];
      }),
    );
    expect(spec.constraints).toEqual([
      { type: 'spread', vms: ['j1-vm1', 'j1-vm2'], continuous: true },
      { type: 'ban', vm: 'j1-vm1', nodes: ['anywhere'], continuous: false },
      { type: 'ban', vm: 'j1-vm2', nodes: ['anywhere'], continuous: false },
      { type: 'fence', vm: 'j1-vm2', nodes: ['n1', 'n2'], continuous: true },
    ]);
  });

  it('names the path of a constraint over another vjob, an unknown VM, a bad field or type', () => {
    const issues = issuesOf(
      edit((j) => {
        j.constraints = [
          { type: 'spread', vjob: 'j2' },
          { type: 'root', vm: 'other-vm' },
          { type: 'gather', vms: ['j1-vm1'], continuous: 'yes' },
          { type: 'pin', vm: 'j1-vm1' },
        ];
      }),
    );
    expect(issues.map((i) => `${i.path}: ${i.reason}`)).toEqual([
      '$.constraints[2].continuous: must be true or false',
      expect.stringMatching(/^\$\.constraints\[3\]\.type: unknown constraint type "pin" \(one of online, offline, /),
    ]);
    const semantic = issuesOf(
      edit((j) => {
        j.constraints = [
          { type: 'spread', vjob: 'j2' },
          { type: 'root', vm: 'other-vm' },
        ];
      }),
    );
    expect(semantic.map((i) => `${i.path}: ${i.reason}`)).toEqual([
      "$.constraints[0].vjob: vjob 'j2' is not in vjob j1 (a vjob's constraints name only its own VMs)",
      "$.constraints[1].vm: VM 'other-vm' is not in vjob j1 (a vjob's constraints name only its own VMs)",
    ]);
  });
});
