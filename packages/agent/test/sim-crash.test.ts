import { describe, expect, it } from 'vitest';
import type { DriverError } from '../src/drivers/driver.ts';
import { request } from './requests.ts';
import { simNodes, simPair } from './sim-nodes.ts';
import { tempDirPerTest } from './temp-dir.ts';

const code = (p: Promise<unknown>) =>
  p.then(
    () => 'ok',
    (e: DriverError) => e.code,
  );
const brief = (vms: { id: string; state: string; host?: string }[]) => vms.map((v) => `${v.id}:${v.state}`);

describe('sim driver state across agent restarts', () => {
  const dir = tempDirPerTest('entropy-sim-');

  it('keeps its VMs in the state directory: a restarted driver holds them as they were, vjob and demand included', async () => {
    const c = simNodes(dir.path);
    const n1 = c.start('n1');
    await c.complete(n1.run(request('run', { from: undefined, to: 'n1', vjob: 'jx', demand: { cpu: 1, mem: 300 } })));
    const after = c.restart('n1');
    expect(after.snapshot()).toEqual([{ id: 'v1', vjob: 'jx', state: 'running', demand: { cpu: 1, mem: 300 } }]);
  });

  it('seeds its VMs from --sim-vms at the first start only', () => {
    const c = simNodes(dir.path);
    c.start('n1', { vms: [{ id: 's1', state: 'paused', demand: { cpu: 1, mem: 100 } }] });
    const restarted = c.restart('n1', { vms: [{ id: 's2', state: 'running', demand: { cpu: 1, mem: 100 } }] });
    expect(brief(restarted.snapshot())).toEqual(['s1:paused']);
  });

  it('leaves a VM as it was before an action cut short by the agent dying', async () => {
    const c = simNodes(dir.path, { vms: [{ id: 'v1', vjob: 'j1', state: 'running', demand: { cpu: 1, mem: 512 } }] });
    const n1 = c.start('n1');
    void n1.suspend(request('suspend'));
    void n1.run(request('run', { vm: 'v2', from: undefined, to: 'n1' }));
    await c.settle();
    expect(c.sleeping()).toBe(2);
    const restarted = c.restart('n1');
    expect(brief(restarted.snapshot())).toEqual(['v1:running']);
    // Nothing of the cut action remains: the VM takes a new action at once.
    await c.complete(restarted.pause(request('pause', { actionId: 'p2' })));
    expect(brief(restarted.snapshot())).toEqual(['v1:paused']);
  });
});

describe('sim driver two-phase migration', () => {
  const dir = tempDirPerTest('entropy-sim-');
  const seed = [{ id: 'v1', vjob: 'j1', state: 'running' as const, demand: { cpu: 1, mem: 512 } }];

  it('reserves room on the destination from the start, and moves the VM at the end, on disk on both sides', async () => {
    const { c, n1, n2 } = simPair(dir.path, seed);
    const migration = n1.migrate(request('migrate', { to: 'n2' }));
    await c.settle();
    // Room is taken on n2 but the VM is still n1's.
    expect(
      await code(n2.run(request('run', { vm: 'big', from: undefined, to: 'n2', demand: { cpu: 1, mem: 600 } }))),
    ).toBe('ENTROPY_NO_ROOM');
    expect([brief(n1.snapshot()), brief(n2.snapshot())]).toEqual([['v1:running'], []]);
    c.finishAll();
    expect(await migration).toEqual({ state: 'running' });
    expect([brief(c.restart('n1').snapshot()), brief(c.restart('n2').snapshot())]).toEqual([[], ['v1:running']]);
  });

  it('keeps a migrated VM paused when it was paused', async () => {
    const c = simNodes(dir.path);
    const n1 = c.start('n1', { vms: [{ ...seed[0]!, state: 'paused' }] });
    const n2 = c.start('n2');
    expect(await c.complete(n1.migrate(request('migrate', { to: 'n2' })))).toEqual({ state: 'paused' });
    expect(brief(n2.snapshot())).toEqual(['v1:paused']);
  });

  it('leaves the VM on the source alone when the source dies mid-way; the reservation lapses after the timeout', async () => {
    const { c, n1, n2 } = simPair(dir.path, seed);
    void n1.migrate(request('migrate', { to: 'n2', timeoutMs: 10_000 }));
    await c.settle();
    const restarted = c.restart('n1');
    expect([brief(restarted.snapshot()), brief(n2.snapshot())]).toEqual([['v1:running'], []]);
    const big = request('run', { vm: 'big', from: undefined, to: 'n2', demand: { cpu: 1, mem: 600 } });
    expect(await code(n2.run(big))).toBe('ENTROPY_NO_ROOM');
    c.clock.now += 10_001;
    expect(await code(c.complete(n2.run(big)))).toBe('ok');
  });

  it('lets a restarted source migrate the VM again at once: its dead attempt reservation is renewed', async () => {
    const { c, n1, n2 } = simPair(dir.path, seed);
    void n1.migrate(request('migrate', { to: 'n2' }));
    await c.settle();
    const restarted = c.restart('n1');
    expect(await c.complete(restarted.migrate(request('migrate', { actionId: 'again', to: 'n2' })))).toEqual({
      state: 'running',
    });
    expect([brief(restarted.snapshot()), brief(n2.snapshot())]).toEqual([[], ['v1:running']]);
  });

  it('commits to a destination that restarted mid-way when it still has room', async () => {
    const { c, n1 } = simPair(dir.path, seed);
    const migration = n1.migrate(request('migrate', { to: 'n2' }));
    await c.settle();
    const n2 = c.restart('n2');
    c.finishAll();
    expect(await migration).toEqual({ state: 'running' });
    expect([brief(n1.snapshot()), brief(n2.snapshot())]).toEqual([[], ['v1:running']]);
  });

  it('fails, leaving the VM on the source, when a destination that restarted mid-way has no room any more', async () => {
    const { c, n1 } = simPair(dir.path, seed);
    const migration = n1.migrate(request('migrate', { to: 'n2' }));
    await c.settle();
    // n2 restarts, forgets the reservation, and a VM fills it meanwhile.
    const n2 = c.restart('n2');
    await c.complete(
      n2.run(request('run', { vm: 'big', actionId: 'fill', from: undefined, to: 'n2', demand: { cpu: 1, mem: 600 } })),
    );
    expect(await code(migration)).toBe('ENTROPY_NO_ROOM');
    expect([brief(c.restart('n1').snapshot()), brief(c.restart('n2').snapshot())]).toEqual([
      ['v1:running'],
      ['big:running'],
    ]);
  });

  it('drops the reservation on the destination when the migration fails', async () => {
    const { c, n1, n2 } = simPair(dir.path, seed);
    expect(
      await code(c.complete(n1.migrate(request('migrate', { to: 'n2', estimatedMs: 5000, timeoutMs: 100 })))),
    ).toBe('ENTROPY_DRIVER_TIMEOUT');
    expect(
      await code(
        c.complete(n2.run(request('run', { vm: 'big', from: undefined, to: 'n2', demand: { cpu: 1, mem: 600 } }))),
      ),
    ).toBe('ok');
    expect(brief(n1.snapshot())).toEqual(['v1:running']);
  });
});

describe('sim driver remote resume', () => {
  const dir = tempDirPerTest('entropy-sim-');
  const image = [{ id: 'v1', vjob: 'j1', state: 'sleeping' as const, demand: { cpu: 1, mem: 512 } }];

  it('takes the image from its node only at the end: the source gives it up, the destination saves the paused VM', async () => {
    const { c, n1, n2 } = simPair(dir.path, image);
    const resume = n2.resume(request('resume', { from: 'n1', to: 'n2' }));
    await c.settle();
    expect([brief(n1.snapshot()), brief(n2.snapshot())]).toEqual([['v1:sleeping'], []]);
    // The image is held: its own node cannot act on it meanwhile.
    expect(await code(n1.stop(request('stop')))).toBe('ENTROPY_INVALID_STATE');
    c.finishAll();
    await resume;
    expect([brief(c.restart('n1').snapshot()), brief(c.restart('n2').snapshot())]).toEqual([[], ['v1:paused']]);
  });

  it('leaves the image on its node when the destination dies mid-resume; the hold lapses after the timeout', async () => {
    const { c, n1, n2: dying } = simPair(dir.path, image);
    void dying.resume(request('resume', { from: 'n1', to: 'n2', timeoutMs: 10_000 }));
    await c.settle();
    const n2 = c.restart('n2');
    expect([brief(n1.snapshot()), brief(n2.snapshot())]).toEqual([['v1:sleeping'], []]);
    c.clock.now += 10_001;
    await c.complete(n2.resume(request('resume', { actionId: 'again', from: 'n1', to: 'n2' })));
    expect([brief(n1.snapshot()), brief(n2.snapshot())]).toEqual([[], ['v1:paused']]);
  });

  it('lets a restarted destination resume again at once: its dead attempt hold is renewed', async () => {
    const { c, n1, n2: dying } = simPair(dir.path, image);
    void dying.resume(request('resume', { from: 'n1', to: 'n2' }));
    await c.settle();
    const n2 = c.restart('n2');
    await c.complete(n2.resume(request('resume', { actionId: 'again', from: 'n1', to: 'n2' })));
    expect([brief(n1.snapshot()), brief(n2.snapshot())]).toEqual([[], ['v1:paused']]);
  });

  it('gives the image to the resume of a destination even if its own agent restarted and forgot the hold', async () => {
    const { c, n2 } = simPair(dir.path, image);
    const resume = n2.resume(request('resume', { from: 'n1', to: 'n2' }));
    await c.settle();
    const n1 = c.restart('n1');
    c.finishAll();
    await resume;
    expect([brief(n1.snapshot()), brief(n2.snapshot())]).toEqual([[], ['v1:paused']]);
  });
});
