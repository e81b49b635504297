import { type NodeStatus, silentLogger, type VMStatus } from '@entropy/protocol';
import { describe, expect, it } from 'vitest';
import { ClusterMonitor, MemoryRegistry, type MonitorView } from '../monitor/index.ts';
import { MemoryQueueStore } from './queue-store.ts';
import { observeVJob, VJobQueue } from './vjob-queue.ts';

/** A controller's queue, registry and monitor, with agents' statuses fed by hand. */
async function harness(options: { keepEndedMs?: number } = {}) {
  const store = new MemoryQueueStore();
  const registry = new MemoryRegistry();
  const queue = await VJobQueue.open(store, silentLogger, options);
  queue.attach(registry);
  const monitor = new ClusterMonitor({ periodMs: 1000 });
  let seq = 0;
  let t = 1000;
  const report = (node: string, vms: Omit<VMStatus, 'host'>[]) => {
    const status: NodeStatus = {
      node,
      seq: seq++,
      ts: t,
      driver: 'sim',
      capacity: { cpu: 4, mem: 4096 },
      vms: vms.map((v) => ({ ...v, host: node })),
      inFlight: 0,
    };
    monitor.observeStatus(status, t);
  };
  const view = (): MonitorView => monitor.view(t, registry);
  const spec = (id: string, vms = 2) => ({
    id,
    priority: 0,
    vms: Array.from({ length: vms }, (_, i) => ({ id: `${id}-vm${i + 1}`, demand: { cpu: 1, mem: 512 } })),
  });
  return { store, registry, queue, report, view, spec, tick: (ms: number) => (t += ms) };
}

describe('VJobQueue', () => {
  it('a submitted vjob waits: the monitor plans its VMs as waiting, and the store holds it', async () => {
    const h = await harness();
    h.report('n1', []);
    const r = await h.queue.submit(h.spec('j1'), 5, h.view());
    expect(r).toMatchObject({ ok: true, vjob: { id: 'j1', state: 'waiting', submittedAt: 5 } });
    expect(h.view().configuration.vms.map((v) => [v.id, v.state])).toEqual([
      ['j1-vm1', 'waiting'],
      ['j1-vm2', 'waiting'],
    ]);
    expect(await h.store.get('j1')).toMatchObject({ state: 'waiting' });
    expect(h.queue.schedulable(h.view()).map((v) => v.id)).toEqual(['j1']);
  });

  it('keeps planning a VM whose run never ended as waiting (its agent restarted mid-run), and one that started and vanished as gone', async () => {
    const h = await harness();
    h.report('n1', []);
    await h.queue.submit(h.spec('j1', 3), 1, h.view());
    // vm1 and vm2 started; vm3's run was cut short: no node reports it.
    h.report('n1', [
      { id: 'j1-vm1', vjob: 'j1', state: 'running' },
      { id: 'j1-vm2', vjob: 'j1', state: 'running' },
    ]);
    await h.queue.reconcile(h.view(), { mayEnd: true, now: 10 });
    expect((await h.store.get('j1'))!.vms.map((vm) => [vm.id, vm.started])).toEqual([
      ['j1-vm1', true],
      ['j1-vm2', true],
      ['j1-vm3', false],
    ]);
    expect(h.view().configuration.vms.map((v) => [v.id, v.state])).toEqual([
      ['j1-vm1', 'running'],
      ['j1-vm2', 'running'],
      ['j1-vm3', 'waiting'],
    ]);
    // vm2 vanishes after it started: it is missing, not waiting, and the vjob is left out of planning.
    h.report('n1', [{ id: 'j1-vm1', vjob: 'j1', state: 'running' }]);
    expect(h.view().excluded.find((e) => e.vm === 'j1-vm2')).toMatchObject({ reason: 'missing' });
  });

  it('refuses a vjob id or a VM id already in use, naming the field', async () => {
    const h = await harness();
    h.report('n1', [{ id: 'other-vm', vjob: 'x', state: 'running' }]);
    await h.queue.submit(h.spec('j1'), 1, h.view());
    expect(await h.queue.submit(h.spec('j1'), 2, h.view())).toMatchObject({
      ok: false,
      error: { code: 'ENTROPY_CONFLICT', field: 'vjob.id' },
    });
    const clash = {
      id: 'j2',
      priority: 0,
      vms: [
        { id: 'j2-vm1', demand: { cpu: 1, mem: 1 } },
        { id: 'other-vm', demand: { cpu: 1, mem: 1 } },
      ],
    };
    expect(await h.queue.submit(clash, 3, h.view())).toMatchObject({
      ok: false,
      error: { code: 'ENTROPY_CONFLICT', field: 'vjob.vms[1].id' },
    });
    expect(await h.store.get('j2')).toBeUndefined();
  });

  it('records the state the agents report, and a vjob whose VMs are all gone as finished', async () => {
    const h = await harness();
    h.report('n1', []);
    await h.queue.submit(h.spec('j1'), 1, h.view());
    h.report('n1', [
      { id: 'j1-vm1', vjob: 'j1', state: 'running' },
      { id: 'j1-vm2', vjob: 'j1', state: 'running' },
    ]);
    expect(h.queue.observedChange(h.view())).toBe(true);
    await h.queue.reconcile(h.view(), { mayEnd: true, now: 10 });
    expect(await h.store.get('j1')).toMatchObject({ state: 'running' });
    expect(h.queue.observedChange(h.view())).toBe(false);
    // One VM stopped: the vjob is not whole any more, not finished either.
    h.report('n1', [{ id: 'j1-vm2', vjob: 'j1', state: 'running' }]);
    expect(observeVJob(h.queue.get('j1')!, h.view())).toBe('unknown');
    await h.queue.reconcile(h.view(), { mayEnd: true, now: 11 });
    expect(h.queue.get('j1')!.state).toBe('running');
    h.report('n1', []);
    expect(observeVJob(h.queue.get('j1')!, h.view())).toBe('gone');
    await h.queue.reconcile(h.view(), { mayEnd: false, now: 12 });
    expect(h.queue.get('j1')!.state).toBe('running');
    await h.queue.reconcile(h.view(), { mayEnd: true, now: 13 });
    expect(await h.store.get('j1')).toMatchObject({ state: 'terminated', end: 'finished', endedAt: 13 });
    // Gone for good: the monitor no longer plans with it, and it never comes back as waiting.
    expect(h.view().configuration.vjobs).toEqual([]);
    expect(h.view().excluded).toEqual([]);
  });

  it('ends a vjob that a plan ran and whose VMs stopped before any turn recorded it running', async () => {
    const h = await harness();
    h.report('n1', []);
    await h.queue.submit(h.spec('j1', 1), 1, h.view());
    // The executor's outcome: the VM runs (the registry forgets that it waited)...
    h.registry.settle({
      nodes: [],
      vjobs: [],
      vms: [{ id: 'j1-vm1', vjob: 'j1', state: 'running', host: 'n1', demand: { cpu: 1, mem: 512 } }],
    });
    // ...and the next statuses already show it gone.
    expect(observeVJob(h.queue.get('j1')!, h.view())).toBe('gone');
    await h.queue.reconcile(h.view(), { mayEnd: true, now: 9 });
    expect(h.queue.get('j1')).toMatchObject({ state: 'terminated', end: 'finished' });
    expect(h.view().configuration.vms).toEqual([]);
  });

  it('does not end a vjob whose VMs sit on a node that went offline', async () => {
    const h = await harness();
    h.report('n1', []);
    await h.queue.submit(h.spec('j1', 1), 1, h.view());
    h.report('n1', [{ id: 'j1-vm1', vjob: 'j1', state: 'running' }]);
    await h.queue.reconcile(h.view(), { mayEnd: true, now: 2 });
    h.tick(10_000);
    expect(observeVJob(h.queue.get('j1')!, h.view())).toBe('unknown');
    await h.queue.reconcile(h.view(), { mayEnd: true, now: 3 });
    expect(h.queue.get('j1')!.state).toBe('running');
  });

  it('cancels a waiting vjob at once, and a running one only once its VMs are gone', async () => {
    const h = await harness();
    h.report('n1', []);
    await h.queue.submit(h.spec('w'), 1, h.view());
    expect(await h.queue.cancel('w', h.view(), false, 5)).toMatchObject({
      ok: true,
      vjob: { state: 'terminated', end: 'cancelled', cancelRequestedAt: 5 },
    });
    expect(h.view().configuration.vms).toEqual([]);

    await h.queue.submit(h.spec('r', 1), 2, h.view());
    h.report('n1', [{ id: 'r-vm1', vjob: 'r', state: 'running' }]);
    await h.queue.reconcile(h.view(), { mayEnd: true, now: 6 });
    const r = await h.queue.cancel('r', h.view(), false, 7);
    expect(r).toMatchObject({ ok: true, vjob: { state: 'running', cancelRequestedAt: 7 } });
    expect(h.queue.cancelling(h.view()).map((v) => v.id)).toEqual(['r']);
    expect(h.queue.schedulable(h.view())).toEqual([]);
    h.report('n1', [{ id: 'r-vm1', vjob: 'r', state: 'terminated' }]);
    await h.queue.reconcile(h.view(), { mayEnd: true, now: 8 });
    expect(await h.store.get('r')).toMatchObject({ state: 'terminated', end: 'cancelled', endedAt: 8 });
  });

  it('does not end a waiting vjob at once while a plan runs: the plan may be starting it', async () => {
    const h = await harness();
    h.report('n1', []);
    await h.queue.submit(h.spec('w'), 1, h.view());
    expect(await h.queue.cancel('w', h.view(), true, 5)).toMatchObject({
      ok: true,
      vjob: { state: 'waiting', cancelRequestedAt: 5 },
    });
    await h.queue.reconcile(h.view(), { mayEnd: true, now: 6 });
    expect(h.queue.get('w')).toMatchObject({ state: 'terminated', end: 'cancelled' });
  });

  it('refuses to cancel an unknown vjob', async () => {
    const h = await harness();
    expect(await h.queue.cancel('nope', h.view(), false, 1)).toMatchObject({
      ok: false,
      error: { code: 'ENTROPY_UNKNOWN_VJOB' },
    });
  });

  it('after a restart, re-registers the vjobs that have not ended from the store', async () => {
    const h = await harness();
    h.report('n1', []);
    await h.queue.submit(h.spec('a'), 1, h.view());
    await h.queue.submit(h.spec('b'), 2, h.view());
    await h.queue.cancel('b', h.view(), false, 3);
    const registry = new MemoryRegistry();
    const reopened = await VJobQueue.open(h.store, silentLogger);
    reopened.attach(registry);
    expect(reopened.list().map((v) => [v.id, v.state])).toEqual([
      ['a', 'waiting'],
      ['b', 'terminated'],
    ]);
    expect([...registry.vms.keys()]).toEqual(['a-vm1', 'a-vm2']);
    expect(registry.vms.get('a-vm1')).toMatchObject({ vjob: 'a', state: 'waiting', demand: { cpu: 1, mem: 512 } });
  });

  it('removes an ended vjob once it has been listed for keepEndedMs, from the store and the registry; its id is free again', async () => {
    const h = await harness({ keepEndedMs: 1000 });
    h.report('n1', []);
    await h.queue.submit(h.spec('j1'), 1, h.view());
    await h.queue.submit(h.spec('j2'), 2, h.view());
    h.report('n1', [
      { id: 'j1-vm1', vjob: 'j1', state: 'running' },
      { id: 'j1-vm2', vjob: 'j1', state: 'running' },
    ]);
    await h.queue.reconcile(h.view(), { mayEnd: true, now: 10 });
    h.report('n1', []);
    await h.queue.reconcile(h.view(), { mayEnd: true, now: 20 });
    expect(h.queue.get('j1')).toMatchObject({ state: 'terminated', end: 'finished', endedAt: 20 });
    await h.queue.reconcile(h.view(), { mayEnd: true, now: 1019 });
    expect(h.queue.list().map((v) => v.id)).toEqual(['j1', 'j2']);
    await h.queue.reconcile(h.view(), { mayEnd: true, now: 1020 });
    expect(h.queue.list().map((v) => v.id)).toEqual(['j2']);
    expect(await h.store.get('j1')).toBeUndefined();
    expect([...h.registry.vms.keys()].sort()).toEqual(['j2-vm1', 'j2-vm2']);
    expect([...h.registry.vjobs.keys()]).toEqual(['j2']);
    // The waiting vjob is untouched, and the ended one's id can be submitted again.
    expect(h.queue.get('j2')).toMatchObject({ state: 'waiting' });
    expect(await h.queue.submit(h.spec('j1'), 1030, h.view())).toMatchObject({
      ok: true,
      vjob: { id: 'j1', state: 'waiting' },
    });
  });
});
