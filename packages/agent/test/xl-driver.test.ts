import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DriverError } from '../src/drivers/driver.ts';
import { execRunner } from '../src/drivers/exec.ts';
import { parseXlList, xlDriver } from '../src/drivers/xl-driver.ts';
import { fakeHypervisorPerTest } from './fake-hypervisor.ts';
import { request } from './requests.ts';

describe('xl driver against a fake xl', () => {
  const hv = fakeHypervisorPerTest();
  let t = 0;
  const driver = () =>
    xlDriver({
      configDir: '/etc/xen/vms',
      imageDir: hv.images,
      hosts: { n2: '10.0.0.2' },
      runner: execRunner({ env: hv.fake.env }),
      now: () => t,
    });

  it('runs the whole life cycle with the exact xl command lines', async () => {
    const xl = driver();
    await xl.run(request('run', { from: undefined, to: 'n1' }));
    await xl.pause(request('pause'));
    await xl.suspend(request('suspend'));
    expect(await xl.list()).toEqual([{ id: 'v1', state: 'sleeping' }]);
    await xl.resume(request('resume', { to: 'n1' }));
    await xl.unpause(request('unpause'));
    expect(await xl.migrate(request('migrate', { to: 'n2' }))).toEqual({ state: 'running' });
    const image = join(hv.images, 'v1.save');
    expect(await hv.fake.calls()).toEqual([
      ['xl', 'create', '/etc/xen/vms/v1.cfg'],
      ['xl', 'pause', 'v1'],
      ['xl', 'save', 'v1', image],
      ['xl', 'list'],
      ['xl', 'restore', '-p', image],
      ['xl', 'unpause', 'v1'],
      ['xl', 'list'],
      ['xl', 'migrate', 'v1', '10.0.0.2'],
    ]);
    expect(await hv.fake.state()).toEqual({});
    expect(await xl.list()).toEqual([]);
  });

  it('migrates a paused domain with -p so that it stays paused, and says so', async () => {
    await hv.fake.setState({ v1: { state: 'p', mem: 512, cpu: 1 } });
    expect(await driver().migrate(request('migrate', { to: 'n2' }))).toEqual({ state: 'paused' });
    expect((await hv.fake.calls()).at(-1)).toEqual(['xl', 'migrate', '-p', 'v1', '10.0.0.2']);
  });

  it('lists domains with their state, memory and measured cpu, without Domain-0', async () => {
    await hv.fake.setState({ v1: { state: 'r', mem: 512, cpu: 10 }, v2: { state: 'p', mem: 1024, cpu: 3 } });
    const xl = driver();
    t = 1000;
    expect(await xl.list()).toEqual([
      { id: 'v1', state: 'running', mem: 512, cpu: undefined },
      { id: 'v2', state: 'paused', mem: 1024, cpu: undefined },
    ]);
    await hv.fake.setState({ v1: { state: 'r', mem: 512, cpu: 12 }, v2: { state: 'p', mem: 1024, cpu: 3 } });
    t = 3000;
    expect((await xl.list()).map((v) => v.cpu)).toEqual([1, 0]);
  });

  it('propagates a failing xl command as ENTROPY_DRIVER_FAILED with its stderr', async () => {
    await hv.fake.setState({ v1: { state: 'r', mem: 512, cpu: 1 } });
    await hv.fake.failOn('migrate');
    const err = await driver()
      .migrate(request('migrate', { to: 'n2' }))
      .catch((e: DriverError) => e);
    expect(err).toBeInstanceOf(DriverError);
    expect((err as DriverError).code).toBe('ENTROPY_DRIVER_FAILED');
    expect((err as DriverError).message).toMatch(
      /xl migrate v1 10\.0\.0\.2 exited with status 1: xl: migrate failed \(injected\)/,
    );
  });

  it('stops a domain with shutdown -w, falling back to destroy', async () => {
    await hv.fake.setState({ v1: { state: 'r', mem: 512, cpu: 1 } });
    await hv.fake.failOn('shutdown');
    await driver().stop(request('stop'));
    expect((await hv.fake.calls()).slice(1)).toEqual([
      ['xl', 'shutdown', '-w', 'v1'],
      ['xl', 'destroy', 'v1'],
    ]);
  });

  it('stops a sleeping VM by removing its image, and refuses to resume without one', async () => {
    const xl = driver();
    await xl.run(request('run', { from: undefined, to: 'n1' }));
    await xl.suspend(request('suspend'));
    await xl.stop(request('stop'));
    expect(await xl.list()).toEqual([]);
    const err = await xl.resume(request('resume', { from: 'n3', to: 'n1' })).catch((e: DriverError) => e);
    expect((err as DriverError).code).toBe('ENTROPY_INVALID_STATE');
    expect((err as DriverError).message).toMatch(/image directory must be shared/);
  });

  it('kills a command that outlives the timeout', async () => {
    await writeFile(join(hv.fake.dir, 'slow-xl'), '#!/bin/sh\nsleep 30\n', { mode: 0o755 });
    const slow = xlDriver({ xl: 'slow-xl', runner: execRunner({ env: hv.fake.env }), imageDir: hv.images });
    const err = await slow.pause(request('pause', { timeoutMs: 300 })).catch((e: DriverError) => e);
    expect((err as DriverError).code).toBe('ENTROPY_DRIVER_TIMEOUT');
  });

  it('parses names from the right of xl list rows', () => {
    const out =
      'Name  ID   Mem VCPUs\tState\tTime(s)\nDomain-0  0  1024  2  r-----  5.0\nweb 1   7   256     1     --p---       0.5\n';
    expect(parseXlList(out)).toEqual([{ id: 'web 1', memMiB: 256, flags: '--p---', cpuSeconds: 0.5 }]);
  });
});
