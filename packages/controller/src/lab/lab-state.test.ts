import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { labDownCommand } from '../cli/lab-command.ts';
import { LabErrorCode } from './lab-error.ts';
import { LAB_STATE_FILE, LabRole, type LabState, LabStateFile, readLabState } from './lab-state.ts';
import { systemTeardownOps, teardownLab, type TeardownOps } from './lab-teardown.ts';
import { labUp } from './lab-up.ts';
import { isRunning, type RecordedProcess, spawnRecorded, stopRecorded } from './recorded-process.ts';

/** Namespaces are faked (no root needed): a set of names, and a list of deletions. */
function fakeNamespaces(existing: string[], failOn?: string): { ops: TeardownOps; deleted: string[] } {
  const deleted: string[] = [];
  const ops: TeardownOps = {
    ...systemTeardownOps,
    stopLibvirtd: async () => {},
    namespaces: async () => existing.filter((n) => !deleted.includes(n)),
    deleteNamespace: async (ns) => {
      if (ns === failOn) throw new Error('Device or resource busy');
      deleted.push(ns);
    },
  };
  return { ops, deleted };
}

describe('the lab state file', () => {
  let dir = '';
  const spawned: RecordedProcess[] = [];
  const sleeper = (name: string) => {
    mkdirSync(join(dir, 'logs'), { recursive: true });
    const { process: p } = spawnRecorded(name, 'sleep', ['600'], {
      log: join(dir, 'logs', `${name}.log`),
      detached: true,
    });
    spawned.push(p);
    return p;
  };
  const starting = (): LabState => ({
    version: 1,
    prefix: 'eltest01',
    dir,
    createdDir: true,
    phase: 'starting',
    startedAt: Date.now(),
    namespaces: [],
    processes: [],
    hosts: [],
    guests: [],
    paths: [],
  });

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'entropy-lab-state-'));
  });
  afterEach(async () => {
    for (const p of spawned.splice(0)) await stopRecorded(p, 1000);
    await rm(dir, { recursive: true, force: true });
  });

  it('records each part as it is made, in a whole file at every step, and reads it back', () => {
    const file = LabStateFile.create(starting());
    file.addNamespace('eltest01sw');
    const p = sleeper('agent-n1');
    file.addProcess({ ...p, role: LabRole.Agent, node: 'n1' });
    file.addPath(join(dir, 'images'));
    expect(readLabState(dir)).toMatchObject({
      prefix: 'eltest01',
      phase: 'starting',
      namespaces: ['eltest01sw'],
      processes: [{ name: 'agent-n1', pid: p.pid, role: 'agent', node: 'n1' }],
      paths: [join(dir, 'images')],
    });
    expect(existsSync(join(dir, `${LAB_STATE_FILE}.tmp`))).toBe(false);
  });

  it('is absent when no lab is recorded, and a malformed one is ENTROPY_LAB_STATE naming the field', () => {
    expect(readLabState(join(dir, 'nothing-here'))).toBeUndefined();
    writeFileSync(
      join(dir, LAB_STATE_FILE),
      JSON.stringify({ ...starting(), processes: [{ name: 'x', role: 'agent', pid: -3, startTime: '1' }] }),
    );
    expect(() => readLabState(dir)).toThrow(
      expect.objectContaining({ code: LabErrorCode.State, message: expect.stringContaining('$.processes.0.pid') }),
    );
  });

  it('lets lab down remove what a lab up cut short left: recorded processes, the namespaces that exist, paths, then itself', async () => {
    const file = LabStateFile.create(starting());
    // A crash right after `ip netns add` of the second host: recorded before it was made.
    for (const ns of ['eltest01sw', 'eltest01n1', 'eltest01n2']) file.addNamespace(ns);
    const agent = sleeper('agent-n1');
    const relay = sleeper('relay');
    file.addProcess({ ...agent, role: LabRole.Agent, node: 'n1' });
    file.addProcess({ ...relay, role: LabRole.Relay });
    for (const d of ['images', 'logs']) {
      file.addPath(join(dir, d));
      mkdirSync(join(dir, d), { recursive: true });
    }
    writeFileSync(join(dir, 'images', 'v1.save'), 'image');
    const { ops, deleted } = fakeNamespaces(['eltest01sw', 'eltest01n1', 'someone-else']);

    const report = await teardownLab(readLabState(dir)!, ops);
    expect(report.failures).toEqual([]);
    expect(isRunning(agent) || isRunning(relay)).toBe(false);
    expect(deleted).toEqual(['eltest01n1', 'eltest01sw']);
    expect(existsSync(dir)).toBe(false);
  });

  it('never signals a pid whose start time is not the recorded one (a pid reused since)', async () => {
    const stranger = sleeper('stranger');
    const file = LabStateFile.create({ ...starting(), createdDir: false });
    file.addProcess({ ...stranger, startTime: String(Number(stranger.startTime) + 1), role: LabRole.Agent });
    const report = await teardownLab(file.current, fakeNamespaces([]).ops);
    expect(report.processes).toEqual([`stranger (${stranger.pid}): gone`]);
    expect(isRunning(stranger)).toBe(true);
    // Not made by the lab: the directory stays (here with the test's logs), without the state file.
    expect(existsSync(join(dir, 'logs'))).toBe(true);
    expect(existsSync(join(dir, LAB_STATE_FILE))).toBe(false);
  });

  it('keeps the state file when something cannot be removed, so that a second lab down retries', async () => {
    const file = LabStateFile.create(starting());
    file.addNamespace('eltest01sw');
    const { ops } = fakeNamespaces(['eltest01sw'], 'eltest01sw');
    const report = await teardownLab(file.current, ops);
    expect(report.failures).toEqual(['namespace eltest01sw: Device or resource busy']);
    expect(readLabState(dir)?.namespaces).toEqual(['eltest01sw']);
  });

  it('lab down says so and exits 0 when nothing is recorded; lab up refuses a directory that holds a lab', async () => {
    expect(await labDownCommand({ dir: join(dir, 'none') })).toEqual({
      output: `no lab recorded in ${join(dir, 'none')}: nothing to remove`,
      exitCode: 0,
    });
    LabStateFile.create(starting());
    await expect(labUp({ dir })).rejects.toMatchObject({
      code: LabErrorCode.DirBusy,
      message: expect.stringContaining('entropy lab down --dir'),
    });
  });
});
