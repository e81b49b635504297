import type { SimLinkRequest } from '@entropy/protocol';
import { describe, expect, it } from 'vitest';
import type { DriverError } from '../src/drivers/driver.ts';
import { type SimDriver, simDriver } from '../src/drivers/sim-driver.ts';
import { request } from './requests.ts';

/** Two sim nodes linked directly, recording the simulated sleeps. */
function pair(opts: { failOn?: string[]; speed?: number } = {}) {
  const slept: number[] = [];
  const sleep = async (ms: number) => void slept.push(ms);
  const nodes: Record<string, SimDriver> = {};
  const peers = (to: string, req: SimLinkRequest) => nodes[to].receiveFromPeer(req);
  nodes.n1 = simDriver({ node: 'n1', capacity: { cpu: 2, mem: 1024 }, sleep, peers, ...opts });
  nodes.n2 = simDriver({ node: 'n2', capacity: { cpu: 2, mem: 1024 }, sleep, peers, ...opts });
  return { ...nodes, slept } as { n1: SimDriver; n2: SimDriver; slept: number[] };
}

const code = (p: Promise<unknown>) =>
  p.then(
    () => 'ok',
    (e: DriverError) => e.code,
  );

describe('sim driver', () => {
  it('runs a VM through pause, suspend, resume, unpause, migrate and stop', async () => {
    const { n1, n2, slept } = pair({ speed: 10 });
    await n1.run(request('run', { from: undefined, to: 'n1', estimatedMs: 5000 }));
    await n1.pause(request('pause'));
    await n1.suspend(request('suspend', { estimatedMs: 512 }));
    expect(await n1.list()).toEqual([{ id: 'v1', state: 'sleeping', cpu: 0, mem: 0 }]);
    await n1.resume(request('resume', { to: 'n1' }));
    await n1.unpause(request('unpause'));
    await n1.migrate(request('migrate', { to: 'n2' }));
    expect(await n1.list()).toEqual([]);
    expect(await n2.list()).toEqual([{ id: 'v1', state: 'running', cpu: 1, mem: 512 }]);
    await n2.stop(request('stop', { from: 'n2' }));
    expect(await n2.list()).toEqual([]);
    expect(slept).toEqual([500, 1, 51.2, 1, 1, 1, 1]);
  });

  it('takes a sleeping image from another node on a remote resume', async () => {
    const { n1, n2 } = pair();
    await n1.run(request('run', { from: undefined, to: 'n1' }));
    await n1.suspend(request('suspend'));
    await n2.resume(request('resume', { from: 'n1', to: 'n2' }));
    expect(n1.snapshot()).toEqual([]);
    expect(n2.snapshot()).toMatchObject([{ id: 'v1', state: 'paused' }]);
    expect(await code(n2.resume(request('resume', { vm: 'v9', from: 'n1', to: 'n2' })))).toBe('ENTROPY_INVALID_STATE');
  });

  it('enforces the hypervisor rules', async () => {
    const { n1 } = pair();
    expect(await code(n1.pause(request('pause')))).toBe('ENTROPY_INVALID_STATE');
    await n1.run(request('run', { from: undefined, to: 'n1' }));
    expect(await code(n1.run(request('run', { from: undefined, to: 'n1' })))).toBe('ENTROPY_INVALID_STATE');
    expect(await code(n1.unpause(request('unpause')))).toBe('ENTROPY_INVALID_STATE');
    expect(await code(n1.resume(request('resume', { to: 'n1' })))).toBe('ENTROPY_INVALID_STATE');
    await n1.pause(request('pause'));
    expect(await code(n1.pause(request('pause')))).toBe('ENTROPY_INVALID_STATE');
  });

  it('refuses a VM the node has no room for, also on a migration in', async () => {
    const { n1, n2 } = pair();
    await n1.run(request('run', { vm: 'big', from: undefined, to: 'n1', demand: { cpu: 1, mem: 800 } }));
    expect(await code(n1.run(request('run', { from: undefined, to: 'n1', demand: { cpu: 1, mem: 300 } })))).toBe(
      'ENTROPY_NO_ROOM',
    );
    await n2.run(request('run', { from: undefined, to: 'n2', demand: { cpu: 1, mem: 300 } }));
    const err = await n2
      .migrate(request('migrate', { from: 'n2', to: 'n1', demand: { cpu: 1, mem: 300 } }))
      .catch((e: DriverError) => e);
    expect((err as DriverError).code).toBe('ENTROPY_NO_ROOM');
    expect(n2.snapshot()).toMatchObject([{ id: 'v1', state: 'running' }]);
  });

  it('refuses a second action on a VM while one runs', async () => {
    let release!: () => void;
    const n1 = simDriver({ node: 'n1', capacity: { mem: 4096 }, sleep: () => new Promise<void>((r) => (release = r)) });
    const running = n1.run(request('run', { from: undefined, to: 'n1' }));
    await new Promise((r) => setImmediate(r));
    expect(await code(n1.pause(request('pause')))).toBe('ENTROPY_INVALID_STATE');
    release();
    await running;
  });

  it('fails the actions and VMs named in its fail list, without changing state', async () => {
    const { n1 } = pair({ failOn: ['a-pause', 'v7'] });
    await n1.run(request('run', { from: undefined, to: 'n1' }));
    expect(await code(n1.pause(request('pause')))).toBe('ENTROPY_INJECTED_FAILURE');
    expect(await code(n1.run(request('run', { vm: 'v7', actionId: 'x', from: undefined, to: 'n1' })))).toBe(
      'ENTROPY_INJECTED_FAILURE',
    );
    expect(n1.snapshot()).toMatchObject([{ id: 'v1', state: 'running' }]);
  });

  it('times out an action longer than its timeout', async () => {
    const { n1 } = pair();
    expect(await code(n1.run(request('run', { from: undefined, to: 'n1', estimatedMs: 5000, timeoutMs: 100 })))).toBe(
      'ENTROPY_DRIVER_TIMEOUT',
    );
  });
});
