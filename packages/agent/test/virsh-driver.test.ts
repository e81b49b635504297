import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { DriverError } from '../src/drivers/driver.ts';
import { execRunner } from '../src/drivers/exec.ts';
import { virshDriver } from '../src/drivers/virsh-driver.ts';
import { fakeHypervisorPerTest } from './fake-hypervisor.ts';
import { request } from './requests.ts';

describe('virsh driver against a fake virsh', () => {
  const hv = fakeHypervisorPerTest();
  let t = 0;
  const driver = (over: { configDir?: string } = {}) =>
    // usageWaitMs: each status waits for its domstats, so that the calls come in a fixed order.
    virshDriver({
      uri: 'qemu:///system',
      imageDir: hv.images,
      hosts: { n2: '10.200.0.12' },
      runner: execRunner({ env: hv.fake.env }),
      usageWaitMs: 60_000,
      now: () => t,
      ...over,
    });

  it('runs the whole life cycle with the exact virsh command lines', async () => {
    const virsh = driver();
    await virsh.run(request('run', { from: undefined, to: 'n1' }));
    await virsh.pause(request('pause'));
    await virsh.suspend(request('suspend'));
    expect(await virsh.list()).toEqual([{ id: 'v1', state: 'sleeping' }]);
    await virsh.resume(request('resume', { to: 'n1' }));
    await virsh.unpause(request('unpause'));
    expect(await virsh.migrate(request('migrate', { to: 'n2' }))).toEqual({ state: 'running' });
    const image = join(hv.images, 'v1.save');
    const c = ['virsh', '-c', 'qemu:///system'];
    expect(await hv.fake.calls()).toEqual([
      [...c, 'start', 'v1'],
      [...c, 'suspend', 'v1'],
      [...c, 'save', 'v1', image],
      [...c, 'list', '--all'],
      [...c, 'domstats', '--cpu-total', '--balloon', '--nowait'],
      [...c, 'restore', image, '--paused'],
      [...c, 'resume', 'v1'],
      [...c, 'list', '--all'],
      [...c, 'domstats', '--cpu-total', '--balloon', '--nowait'],
      [...c, 'migrate', '--live', 'v1', 'qemu+tcp://10.200.0.12/system', 'tcp://10.200.0.12'],
    ]);
    expect(await hv.fake.state()).toEqual({});
  });

  it('resumes from the image of another node in a shared image directory, and only its own images are its sleeping VMs', async () => {
    const n1 = virshDriver({
      uri: 'qemu:///system',
      imageDir: hv.images,
      sharedImagesBy: 'n1',
      runner: execRunner({ env: hv.fake.env }),
      usageWaitMs: 60_000,
    });
    const n2 = virshDriver({
      uri: 'qemu:///system',
      imageDir: hv.images,
      sharedImagesBy: 'n2',
      runner: execRunner({ env: hv.fake.env }),
      usageWaitMs: 60_000,
    });
    await hv.fake.setState({ v1: { state: 'p', mem: 256, cpu: 1 } });
    await n1.suspend(request('suspend'));
    expect(await n1.list()).toEqual([{ id: 'v1', state: 'sleeping' }]);
    expect(await n2.list()).toEqual([]);
    await n2.resume(request('resume', { from: 'n1', to: 'n2' }));
    const image = join(hv.images, 'n1', 'v1.save');
    expect((await hv.fake.calls()).filter((c) => c[3] === 'save' || c[3] === 'restore').map((c) => c.slice(3))).toEqual(
      [
        ['save', 'v1', image],
        ['restore', image, '--paused'],
      ],
    );
    // The image is taken: n1 holds no sleeping v1 any more (one fake hypervisor plays both nodes, so no list here).
    expect(existsSync(image)).toBe(false);
  });

  it('reports a migrated paused domain as paused: libvirt keeps its state', async () => {
    await hv.fake.setState({ v1: { state: 'p', mem: 256, cpu: 1 } });
    expect(await driver().migrate(request('migrate', { to: 'n2' }))).toEqual({ state: 'paused' });
    expect((await hv.fake.calls()).at(-1)).toEqual([
      'virsh',
      '-c',
      'qemu:///system',
      'migrate',
      '--live',
      'v1',
      'qemu+tcp://10.200.0.12/system',
      'tcp://10.200.0.12',
    ]);
  });

  it('creates transient domains from <configDir>/<vm>.xml and destroys them on stop', async () => {
    const virsh = driver({ configDir: '/etc/entropy/libvirt' });
    await virsh.run(request('run', { from: undefined, to: 'n1' }));
    await virsh.stop(request('stop'));
    expect((await hv.fake.calls()).map((c) => c.slice(3))).toEqual([
      ['create', '/etc/entropy/libvirt/v1.xml'],
      ['list', '--all'],
      ['domstats', '--cpu-total', '--balloon', '--nowait'],
      ['destroy', 'v1'],
    ]);
  });

  it('lists domains with their state (virsh list), memory and measured cpu (domstats)', async () => {
    await hv.fake.setState({ v1: { state: 'r', mem: 256, cpu: 4 }, v2: { state: 'p', mem: 128, cpu: 1 } });
    const virsh = driver();
    t = 0;
    await virsh.list();
    await hv.fake.setState({ v1: { state: 'r', mem: 256, cpu: 4.5 }, v2: { state: 'p', mem: 128, cpu: 1 } });
    t = 1000;
    expect(await virsh.list()).toEqual([
      { id: 'v1', state: 'running', mem: 256, cpu: 0.5 },
      { id: 'v2', state: 'paused', mem: 128, cpu: 0 },
    ]);
  });

  it('lists states at once while domstats waits (a domain busy starting): the usage is the previous sample', async () => {
    await hv.fake.setState({ v1: { state: 'r', mem: 256, cpu: 4 } });
    const virsh = virshDriver({
      uri: 'qemu:///system',
      imageDir: hv.images,
      runner: execRunner({ env: hv.fake.env }),
      usageWaitMs: 100,
    });
    await hv.fake.slowDown({ domstats: 3000 });
    const t0 = performance.now();
    expect(await virsh.list()).toEqual([{ id: 'v1', state: 'running' }]);
    // The fake's own start is most of it; the 3 s domstats is not waited for.
    expect(performance.now() - t0).toBeLessThan(2500);
  });

  it('propagates a failing virsh command as ENTROPY_DRIVER_FAILED', async () => {
    await hv.fake.setState({ v1: { state: 'r', mem: 256, cpu: 1 } });
    await hv.fake.failOn('suspend');
    const err = await driver()
      .pause(request('pause'))
      .catch((e: DriverError) => e);
    expect((err as DriverError).code).toBe('ENTROPY_DRIVER_FAILED');
    expect((err as DriverError).message).toMatch(
      /virsh -c qemu:\/\/\/system suspend v1 exited with status 1: virsh: suspend failed/,
    );
    expect((await hv.fake.state()).v1.state).toBe('r');
  });

  it('reports a missing virsh as ENTROPY_DRIVER_FAILED', async () => {
    const missing = virshDriver({ virsh: 'no-such-virsh-binary', imageDir: hv.images });
    const err = await missing.pause(request('pause')).catch((e: DriverError) => e);
    expect((err as DriverError).code).toBe('ENTROPY_DRIVER_FAILED');
    expect((err as DriverError).message).toMatch(/ENOENT/);
  });
});
