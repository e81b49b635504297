import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { DriverError } from '../src/drivers/driver.ts';
import { HANG_OVERRUN_MS, simDriver } from '../src/drivers/sim-driver.ts';
import type { FaultRule } from '../src/drivers/sim-faults.ts';
import { parseAgentOptions } from '../src/options.ts';
import { request } from './requests.ts';
import { tempDirPerTest } from './temp-dir.ts';

const outcome = (p: Promise<unknown>) =>
  p.then(
    () => 'ok',
    (e: DriverError) => `${e.code}${e.final ? ' final' : ''}`,
  );

describe('sim fault rules', () => {
  const dir = tempDirPerTest('entropy-faults-');
  const slept: number[] = [];
  const rulesFile = () => join(dir.path, 'faults.json');
  /** Replaces the rules file in one step, as a test suite would. */
  const writeRules = (rules: unknown) => {
    writeFileSync(`${rulesFile()}.new`, JSON.stringify(rules));
    renameSync(`${rulesFile()}.new`, rulesFile());
  };
  const driver = () => {
    const stateDir = join(dir.path, 'state');
    mkdirSync(stateDir, { recursive: true });
    return simDriver({
      node: 'n1',
      capacity: { mem: 4096 },
      stateDir,
      faultsFile: rulesFile(),
      sleep: async (ms) => void slept.push(ms),
      vms: [
        { id: 'v1', vjob: 'j1', state: 'running', demand: { cpu: 1, mem: 512 } },
        { id: 'v2', vjob: 'j2', state: 'running', demand: { cpu: 1, mem: 512 } },
      ],
    });
  };
  const rule = (over: Partial<FaultRule>): FaultRule => ({ id: 'r1', match: {}, fault: 'fail', times: 1, ...over });

  it('fires a rule as many times as it says, then lets the actions through', async () => {
    writeRules([rule({ match: { type: 'pause' }, times: 2 })]);
    const n1 = driver();
    const pause = () => outcome(n1.pause(request('pause')));
    expect([await pause(), await pause(), await pause()]).toEqual([
      'ENTROPY_INJECTED_FAILURE',
      'ENTROPY_INJECTED_FAILURE',
      'ok',
    ]);
  });

  it('matches on type, VM and vjob together, and leaves the VM as it was', async () => {
    writeRules([rule({ match: { type: 'pause', vm: 'v2', vjob: 'j2' }, fault: 'fail-final', times: 5 })]);
    const n1 = driver();
    expect(await outcome(n1.pause(request('pause', { vm: 'v2', vjob: 'other' })))).toBe('ok');
    expect(await outcome(n1.unpause(request('unpause', { vm: 'v2', vjob: 'j2' })))).toBe('ok');
    expect(await outcome(n1.pause(request('pause', { vm: 'v2', vjob: 'j2' })))).toBe('ENTROPY_INJECTED_FAILURE final');
    expect(await outcome(n1.pause(request('pause', { vm: 'v1' })))).toBe('ok');
    expect(n1.snapshot().map((v) => v.state)).toEqual(['paused', 'running']);
  });

  it('hangs past the request timeout, then fails with ENTROPY_DRIVER_TIMEOUT, the VM untouched', async () => {
    writeRules([rule({ fault: 'hang' })]);
    const n1 = driver();
    slept.length = 0;
    expect(await outcome(n1.stop(request('stop', { timeoutMs: 3000 })))).toBe('ENTROPY_DRIVER_TIMEOUT');
    expect(slept).toEqual([3000 + HANG_OVERRUN_MS]);
    expect(n1.snapshot().map((v) => `${v.id}:${v.state}`)).toEqual(['v1:running', 'v2:running']);
  });

  it('reads the file again when it changes, and keeps the last good rules while it does not parse', async () => {
    const n1 = driver();
    expect(await outcome(n1.pause(request('pause')))).toBe('ok');
    writeRules([rule({ id: 'r2', match: { type: 'unpause' } })]);
    expect(await outcome(n1.unpause(request('unpause')))).toBe('ENTROPY_INJECTED_FAILURE');
    writeRules([rule({ id: 'r3', match: { type: 'unpause' }, times: 3 })]);
    expect(await outcome(n1.unpause(request('unpause')))).toBe('ENTROPY_INJECTED_FAILURE');
    writeFileSync(rulesFile(), '[{"id": "half');
    expect(await outcome(n1.unpause(request('unpause')))).toBe('ENTROPY_INJECTED_FAILURE');
    writeRules([]);
    expect(await outcome(n1.unpause(request('unpause')))).toBe('ok');
  });

  it('counts fires in the state directory: a restarted agent does not fire a spent rule again', async () => {
    writeRules([rule({ match: { vm: 'v1' } })]);
    expect(await outcome(driver().pause(request('pause')))).toBe('ENTROPY_INJECTED_FAILURE');
    const restarted = driver();
    expect(await outcome(restarted.pause(request('pause')))).toBe('ok');
  });

  it('keeps --sim-fail working beside the rules', async () => {
    writeRules([]);
    const n1 = simDriver({
      node: 'n1',
      capacity: {},
      failOn: ['v1'],
      faultsFile: rulesFile(),
      sleep: async () => {},
      vms: [{ id: 'v1', state: 'running', demand: { cpu: 1, mem: 1 } }],
    });
    expect(await outcome(n1.pause(request('pause')))).toBe('ENTROPY_INJECTED_FAILURE');
  });

  it('refuses a bad rules file at start, naming the path in it, and accepts one not written yet', async () => {
    writeRules([rule({ fault: 'explode' as never })]);
    await expect(parseAgentOptions({ node: 'n1', driver: 'sim', simFaults: rulesFile() }, {})).rejects.toMatchObject({
      option: '--sim-faults',
      message: expect.stringContaining('$[0].fault'),
    });
    writeRules([rule({}), rule({})]);
    await expect(parseAgentOptions({ node: 'n1', driver: 'sim', simFaults: rulesFile() }, {})).rejects.toMatchObject({
      message: expect.stringContaining('duplicate rule id'),
    });
    const missing = join(dir.path, 'later.json');
    expect((await parseAgentOptions({ node: 'n1', driver: 'sim', simFaults: missing }, {})).driver.simFaults).toBe(
      missing,
    );
  });
});
