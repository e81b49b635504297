import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LabErrorCode } from './lab-error.ts';
import { recordHostProcess, startLabHost, stopLabHost } from './lab-host-power.ts';
import { LAB_STATE_FILE, LabRole, type LabState, readLabState, writeLabState } from './lab-state.ts';
import { LAB_STATE_LOCK, updateLabState } from './lab-state-lock.ts';
import { formatLabStatus, labStatus } from './lab-status.ts';
import { labDown } from './lab-teardown.ts';
import { isRunning, type RecordedProcess, spawnRecorded, stopRecorded } from './recorded-process.ts';

/**
 * Host power without root: `sleep` processes stand in for a host's libvirtd and agent (stopped by
 * their recorded identity as the real ones are), and the host's libvirt URI leads nowhere.
 */
describe('lab host power: host-stop and host-start on the state file', () => {
  let dir = '';
  const spawned: RecordedProcess[] = [];
  const sleeper = (name: string) => {
    const { process: p } = spawnRecorded(name, 'sleep', ['600'], {
      log: join(dir, 'logs', `${name}.log`),
      detached: true,
    });
    spawned.push(p);
    return p;
  };
  const host = (node: string) => ({
    node,
    ns: `eltest02${node}`,
    addr: '10.200.0.13',
    libvirtDir: join(dir, 'hosts', node),
    uri: `qemu:///system?socket=${join(dir, 'hosts', node, 'run', 'none')}`,
  });

  /** An up lab of one host n3 whose libvirtd and agent are sleepers. */
  function upLab(extra: Partial<LabState> = {}): {
    state: LabState;
    libvirtd: RecordedProcess;
    agent: RecordedProcess;
  } {
    const libvirtd = sleeper('libvirtd-n3');
    const agent = sleeper('agent-n3');
    const state: LabState = {
      version: 1,
      prefix: 'eltest02',
      dir,
      createdDir: false,
      phase: 'up',
      startedAt: Date.now(),
      namespaces: [],
      hosts: [{ ...host('n3'), agentCommand: ['sleep', '600'] }],
      guests: [],
      paths: [],
      processes: [
        { ...libvirtd, role: LabRole.Libvirtd, node: 'n3' },
        { ...agent, role: LabRole.Agent, node: 'n3' },
      ],
      ...extra,
    };
    writeLabState(state);
    return { state, libvirtd, agent };
  }

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'entropy-lab-power-'));
    mkdirSync(join(dir, 'logs'));
  });
  afterEach(async () => {
    for (const p of spawned.splice(0)) await stopRecorded(p, 1000);
    await rm(dir, { recursive: true, force: true });
  });

  it('host-stop by hand stops the agent and then libvirtd, records the host powered off, and lab status says so', async () => {
    const { libvirtd, agent } = upLab();
    const r = await stopLabHost(dir, 'n3');
    expect(r.processes).toEqual([`agent-n3 (pid ${agent.pid}): stopped`, `libvirtd-n3 (pid ${libvirtd.pid}): stopped`]);
    expect(isRunning(agent) || isRunning(libvirtd)).toBe(false);
    const state = readLabState(dir)!;
    expect(state.hosts[0]!.poweredOffAt).toBeGreaterThan(0);
    // The records stay: lab down would still find anything that did not stop.
    expect(state.processes.map((p) => p.pid)).toEqual([libvirtd.pid, agent.pid]);
    const shown = formatLabStatus(await labStatus(state));
    expect(shown).toMatch(/0\/2 processes alive, 2 off with their host/);
    expect(shown).toMatch(/n3 +10\.200\.0\.13 +eltest02n3 \(namespace gone\): powered off since \d{4}-/);
    expect(shown).toMatch(/agent-n3 +pid \d+ +off \(host powered off\)/);
    // Again: nothing left to stop.
    expect((await stopLabHost(dir, 'n3')).processes).toEqual([
      `agent-n3 (pid ${agent.pid}): gone`,
      `libvirtd-n3 (pid ${libvirtd.pid}): gone`,
    ]);
  });

  it("host-stop as the agent's shutdown command leaves the agent running (it replies, then exits by itself)", async () => {
    const { libvirtd, agent } = upLab();
    const r = await stopLabHost(dir, 'n3', { byAgent: true });
    expect(r.processes).toEqual([
      `agent-n3 (pid ${agent.pid}): left to exit by itself`,
      `libvirtd-n3 (pid ${libvirtd.pid}): stopped`,
    ]);
    expect(isRunning(agent)).toBe(true);
    // Until the agent has exited, lab status shows it alive on a powered-off host: what runs, not what should.
    expect(formatLabStatus(await labStatus(readLabState(dir)!))).toMatch(/1\/2 processes alive, 1 off with their host/);
  });

  it('host-start starts only what does not run, clears the power-off, and replaces the dead records', async () => {
    const { libvirtd } = upLab();
    await stopLabHost(dir, 'n3');
    // libvirtd running again behind the lab's back: host-start leaves it and starts the agent only.
    const again = sleeper('libvirtd-n3');
    await recordHostProcess(dir, 'n3', LabRole.Libvirtd, again);
    const r = await startLabHost(dir, 'n3');
    const state = readLabState(dir)!;
    const agent = state.processes.find((p) => p.role === LabRole.Agent)!;
    spawned.push(agent);
    expect(r.processes).toEqual([`libvirtd-n3 (pid ${again.pid}): running`, `agent-n3 (pid ${agent.pid}): started`]);
    expect(isRunning(agent)).toBe(true);
    expect(state.processes.map((p) => [p.name, p.pid])).toEqual([
      ['libvirtd-n3', again.pid],
      ['agent-n3', agent.pid],
    ]);
    expect(state.processes.some((p) => p.pid === libvirtd.pid)).toBe(false);
    expect(state.hosts[0]!.poweredOffAt).toBeUndefined();
  });

  it('refuses an unknown host, a lab not up, a lab going down (recording nothing more), and a lab without agent commands', async () => {
    upLab();
    await expect(startLabHost(dir, 'n9')).rejects.toMatchObject({
      code: LabErrorCode.UnknownHost,
      message: 'lab eltest02 has no host n9 (hosts: n3)',
    });
    await updateLabState(dir, (s) => ({ ...s, phase: 'starting' }));
    await expect(stopLabHost(dir, 'n3')).rejects.toMatchObject({
      code: LabErrorCode.HostPower,
      message: 'lab eltest02 is not up yet: n3 left as it is',
    });
    await updateLabState(dir, (s) => ({ ...s, phase: 'stopping' }));
    await expect(startLabHost(dir, 'n3')).rejects.toMatchObject({
      code: LabErrorCode.HostPower,
      message: expect.stringContaining('going down'),
    });
    const late = sleeper('agent-n3');
    await expect(recordHostProcess(dir, 'n3', LabRole.Agent, late)).rejects.toMatchObject({
      code: LabErrorCode.HostPower,
    });
    expect(readLabState(dir)!.processes.some((p) => p.pid === late.pid)).toBe(false);
    await updateLabState(dir, (s) => ({ ...s, phase: 'up', hosts: s.hosts.map(({ agentCommand: _, ...h }) => h) }));
    await expect(startLabHost(dir, 'n3')).rejects.toMatchObject({
      code: LabErrorCode.HostPower,
      message: expect.stringContaining('no agent command for n3'),
    });
  });

  it('the state lock lets concurrent writers lose nothing and takes over a lock whose holder died', async () => {
    upLab();
    await Promise.all(
      Array.from({ length: 12 }, (_, i) => updateLabState(dir, (s) => ({ ...s, paths: [...s.paths, `p${i}`] }))),
    );
    expect([...readLabState(dir)!.paths].sort()).toEqual(Array.from({ length: 12 }, (_, i) => `p${i}`).sort());
    const dead = spawnRecorded('dead', 'true', [], { log: join(dir, 'logs', 'dead.log') });
    await new Promise((r) => dead.child.once('exit', r));
    writeFileSync(join(dir, LAB_STATE_LOCK), `${dead.process.pid} ${dead.process.startTime}`);
    await updateLabState(dir, (s) => ({ ...s, paths: ['after'] }));
    expect(readLabState(dir)!.paths).toEqual(['after']);
    expect(existsSync(join(dir, LAB_STATE_LOCK))).toBe(false);
  });

  it('lab down marks the lab as going down before it removes what is recorded, then removes the state file and the lock', async () => {
    const { libvirtd, agent } = upLab();
    const down = await labDown(dir, {
      stopProcess: (p) => stopRecorded(p, 1000),
      isRunning,
      stopLibvirtd: async (at) => void (at.process && (await stopRecorded(at.process, 1000))),
      namespaces: async () => [],
      deleteNamespace: async () => {},
      removePath: async () => {},
    });
    expect(down?.state.phase).toBe('stopping');
    expect(down?.report.failures).toEqual([]);
    expect(isRunning(agent) || isRunning(libvirtd)).toBe(false);
    expect(existsSync(join(dir, LAB_STATE_FILE))).toBe(false);
    expect(await labDown(dir)).toBeUndefined();
  });
});
