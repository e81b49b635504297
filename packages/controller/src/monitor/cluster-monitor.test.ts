import type { NodeStatus, VMStatus } from '@entropy/protocol';
import { describe, expect, it } from 'vitest';
import { ClusterMonitor } from './cluster-monitor.ts';
import { MemoryRegistry } from './vm-registry.ts';

const status = (node: string, seq: number, vms: VMStatus[], ts = seq): NodeStatus => ({
  node,
  seq,
  ts,
  driver: 'sim',
  capacity: { cpu: 4, mem: 4096 },
  vms,
  inFlight: 0,
});
const vm = (
  id: string,
  host: string,
  state: VMStatus['state'] = 'running',
  extra: Partial<VMStatus> = {},
): VMStatus => ({ id, host, state, ...extra });

function registry() {
  const r = new MemoryRegistry();
  r.register({
    nodes: [],
    vms: [
      { id: 'v1', vjob: 'j1', demand: { cpu: 1, mem: 512 }, state: 'running', host: 'n1' },
      { id: 'v2', vjob: 'j1', demand: { cpu: 1, mem: 512 }, state: 'running', host: 'n2' },
      { id: 'v3', vjob: 'j2', demand: { cpu: 2, mem: 1024 }, state: 'sleeping', host: 'n2' },
      { id: 'v4', vjob: 'j3', demand: { cpu: 1, mem: 256 }, state: 'waiting' },
    ],
    vjobs: [
      { id: 'j1', vms: ['v1', 'v2'], priority: 2, submittedAt: 10 },
      { id: 'j2', vms: ['v3'], priority: 0, submittedAt: 20 },
      { id: 'j3', vms: ['v4'], priority: 0, submittedAt: 30 },
    ],
  });
  return r;
}

describe('ClusterMonitor', () => {
  it("builds the configuration from the agents' statuses and the registry's vjobs and demands", () => {
    const m = new ClusterMonitor({ periodMs: 1000 });
    m.observeStatus(status('n1', 0, [vm('v1', 'n1', 'running', { cpu: 0.4, mem: 500 })]), 0);
    m.observeStatus(status('n2', 0, [vm('v2', 'n2'), vm('v3', 'n2', 'sleeping')]), 0);
    const view = m.view(500, registry());
    expect(view.configuration.nodes).toEqual([
      { id: 'n1', capacity: { cpu: 4, mem: 4096 }, state: 'online' },
      { id: 'n2', capacity: { cpu: 4, mem: 4096 }, state: 'online' },
    ]);
    expect(view.configuration.vms).toEqual([
      { id: 'v1', vjob: 'j1', demand: { cpu: 1, mem: 512 }, state: 'running', host: 'n1' },
      { id: 'v2', vjob: 'j1', demand: { cpu: 1, mem: 512 }, state: 'running', host: 'n2' },
      { id: 'v3', vjob: 'j2', demand: { cpu: 2, mem: 1024 }, state: 'sleeping', host: 'n2' },
      { id: 'v4', vjob: 'j3', demand: { cpu: 1, mem: 256 }, state: 'waiting' },
    ]);
    expect(view.configuration.vjobs).toEqual([
      { id: 'j1', vms: ['v1', 'v2'], priority: 2, submittedAt: 10 },
      { id: 'j2', vms: ['v3'], priority: 0, submittedAt: 20 },
      { id: 'j3', vms: ['v4'], priority: 0, submittedAt: 30 },
    ]);
    expect(view.usage).toEqual({ v1: { cpu: 0.4, mem: 500 } });
    expect(view.excluded).toEqual([]);
  });

  it('marks a node silent for three periods offline, excludes its VMs and the rest of their vjobs, and reports them', () => {
    const m = new ClusterMonitor({ periodMs: 1000 });
    const r = registry();
    m.observeStatus(status('n1', 0, [vm('v1', 'n1')]), 0);
    m.observeStatus(status('n2', 0, [vm('v2', 'n2'), vm('v3', 'n2', 'sleeping')]), 0);
    expect(m.sweep(0)).toEqual({ wentOffline: [], cameOnline: ['n1', 'n2'], forgotten: [] });
    // n2 keeps publishing; n1 falls silent after t=0.
    for (let t = 1000; t <= 3000; t += 1000)
      m.observeStatus(status('n2', t / 1000, [vm('v2', 'n2'), vm('v3', 'n2', 'sleeping')]), t);
    expect(m.livenessOf('n1', 3000)).toBe('online');
    expect(m.sweep(3000).wentOffline).toEqual([]);
    expect(m.livenessOf('n1', 3001)).toBe('offline');
    expect(m.sweep(3001)).toEqual({ wentOffline: ['n1'], cameOnline: [], forgotten: [] });
    expect(m.sweep(3500).wentOffline).toEqual([]);
    const view = m.view(3001, r);
    expect(view.configuration.nodes.find((n) => n.id === 'n1')!.state).toBe('offline');
    expect(view.nodes.find((n) => n.id === 'n1')!.liveness).toBe('offline');
    expect(view.excluded).toEqual([
      { vm: 'v1', vjob: 'j1', node: 'n1', reason: 'node-offline' },
      { vm: 'v2', vjob: 'j1', node: 'n2', reason: 'vjob-incomplete' },
    ]);
    expect(view.configuration.vms.map((v) => v.id)).toEqual(['v3', 'v4']);
    expect(view.configuration.vjobs.map((j) => j.id)).toEqual(['j2', 'j3']);
    // It comes back with its next status.
    m.observeStatus(status('n1', 1, [vm('v1', 'n1')]), 4000);
    expect(m.sweep(4000)).toEqual({ wentOffline: [], cameOnline: ['n1'], forgotten: [] });
    expect(m.view(4000, r).excluded).toEqual([]);
  });

  it('keeps a node that said hello but sent no status out of planning', () => {
    const m = new ClusterMonitor({ periodMs: 1000 });
    m.observeHello({ node: 'n9', driver: 'sim', capacity: { cpu: 8, mem: 8192 }, startedAt: 0 }, 0);
    const view = m.view(10);
    expect(view.nodes).toMatchObject([{ id: 'n9', liveness: 'pending', capacity: { cpu: 8, mem: 8192 } }]);
    expect(view.configuration.nodes).toEqual([{ id: 'n9', capacity: { cpu: 8, mem: 8192 }, state: 'offline' }]);
  });

  it('excludes crashed and unmanaged VMs; an unmanaged running VM still takes room on its node', () => {
    const m = new ClusterMonitor({ periodMs: 1000 });
    m.observeStatus(
      status('n1', 0, [
        vm('v1', 'n1', 'crashed'),
        vm('x', 'n1', 'running', { cpu: 1, mem: 1000 }),
        vm('v2', 'n1', 'running', { vjob: 'jx', demand: { cpu: 1, mem: 100 } }),
      ]),
      0,
    );
    const view = m.view(0);
    expect(view.excluded).toEqual([
      { vm: 'v1', node: 'n1', reason: 'unmanaged' },
      { vm: 'x', node: 'n1', reason: 'unmanaged' },
    ]);
    expect(view.configuration.nodes[0]!.capacity).toEqual({ cpu: 3, mem: 3096 });
    expect(view.configuration.vms).toEqual([
      { id: 'v2', vjob: 'jx', demand: { cpu: 1, mem: 100 }, state: 'running', host: 'n1' },
    ]);
    const withRegistry = m.view(0, registry());
    expect(withRegistry.excluded).toContainEqual({ vm: 'v1', vjob: 'j1', node: 'n1', reason: 'crashed' });
  });

  it('counts the VMs of a vjob left out as incomplete against their nodes: a node they fill has no room left', () => {
    const r = new MemoryRegistry();
    r.register({
      nodes: [],
      vms: [
        { id: 'a1', vjob: 'ja', demand: { cpu: 2, mem: 2048, gpu: 1 }, state: 'running', host: 'n1' },
        { id: 'a2', vjob: 'ja', demand: { cpu: 2, mem: 2048 }, state: 'running', host: 'n1' },
        { id: 'a3', vjob: 'ja', demand: { cpu: 1, mem: 512 }, state: 'running', host: 'n2' },
        { id: 'a4', vjob: 'ja', demand: { cpu: 1, mem: 512 }, state: 'sleeping', host: 'n2' },
      ],
      vjobs: [{ id: 'ja', vms: ['a1', 'a2', 'a3', 'a4'], priority: 0, submittedAt: 0 }],
    });
    const m = new ClusterMonitor({ periodMs: 1000 });
    const n1 = {
      ...status('n1', 0, [
        vm('a1', 'n1', 'running', { cpu: 0.1, mem: 100 }),
        vm('a2', 'n1', 'paused', { cpu: 0.5, mem: 700 }),
      ]),
      capacity: { cpu: 4, mem: 4096, gpu: 2 },
    };
    m.observeStatus(n1, 0);
    // a3 crashed: the whole vjob is left out of planning, yet a1 and a2 hold n1 whole; a4's image takes no room.
    m.observeStatus(
      status('n2', 0, [
        vm('a3', 'n2', 'crashed'),
        vm('a4', 'n2', 'sleeping'),
        vm('b1', 'n2', 'running', { vjob: 'jb', cpu: 3, mem: 1000 }),
      ]),
      0,
    );
    const view = m.view(0, r);
    expect(view.excluded.map((e) => [e.vm, e.reason])).toEqual([
      ['a1', 'vjob-incomplete'],
      ['a2', 'vjob-incomplete'],
      ['a3', 'crashed'],
      ['a4', 'vjob-incomplete'],
    ]);
    // Each VM counts at its declared demand, in every dimension it names.
    expect(view.configuration.nodes).toEqual([
      { id: 'n1', capacity: { cpu: 0, mem: 0, gpu: 1 }, state: 'online' },
      { id: 'n2', capacity: { cpu: 4, mem: 4096 }, state: 'online' },
    ]);
    // b1 is planned: the engine counts it, the view's capacity does not.
    expect(view.configuration.vms).toEqual([
      { id: 'b1', vjob: 'jb', demand: { cpu: 3, mem: 1000 }, state: 'running', host: 'n2' },
    ]);
    // A VM of no known demand counts at its measured use.
    r.vms.delete('a2');
    const unknownDemand = m.view(0, r);
    expect(unknownDemand.excluded.find((e) => e.vm === 'a2')).toEqual({ vm: 'a2', node: 'n1', reason: 'unmanaged' });
    expect(unknownDemand.configuration.nodes[0]!.capacity).toEqual({ cpu: 1.5, mem: 1348, gpu: 1 });
  });

  it('reports a registered VM no online node holds as missing', () => {
    const m = new ClusterMonitor({ periodMs: 1000 });
    m.observeStatus(status('n1', 0, [vm('v1', 'n1')]), 0);
    m.observeStatus(status('n2', 0, [vm('v2', 'n2')]), 0);
    expect(m.view(0, registry()).excluded).toEqual([{ vm: 'v3', vjob: 'j2', reason: 'missing' }]);
  });

  it('ignores a late status older than the one it has', () => {
    const m = new ClusterMonitor({ periodMs: 1000 });
    m.observeStatus(status('n1', 5, [vm('v1', 'n1', 'paused', { vjob: 'j1' })]), 100);
    m.observeStatus(status('n1', 4, [vm('v1', 'n1', 'running', { vjob: 'j1' })]), 101);
    expect(m.view(101).configuration.vms.map((v) => [v.id, v.state])).toEqual([['v1', 'paused']]);
  });

  it("shows where the controller's own actions left VMs until the nodes' next statuses say more", () => {
    const m = new ClusterMonitor({ periodMs: 1000 });
    const r = registry();
    const place = (at: number) =>
      Object.fromEntries(m.view(at, r).configuration.vms.map((v) => [v.id, [v.state, v.host ?? null]]));
    m.observeStatus(status('n1', 0, [vm('v1', 'n1')]), 0);
    m.observeStatus(status('n2', 0, [vm('v2', 'n2'), vm('v3', 'n2', 'sleeping')]), 0);
    m.observeStatus(status('n3', 0, []), 0);
    // Results of a migration, a suspend and a run, before any agent reports again.
    m.observeResult('v1', { state: 'running', host: 'n3' }, 100);
    m.observeResult('v2', { state: 'sleeping', host: 'n2' }, 100);
    m.observeResult('v4', { state: 'running', host: 'n1' }, 100);
    expect(place(150)).toEqual({
      v1: ['running', 'n3'],
      v2: ['sleeping', 'n2'],
      v3: ['sleeping', 'n2'],
      v4: ['running', 'n1'],
    });
    // A newer status wins over a result, even one that contradicts it; an older one does not.
    m.observeStatus(status('n3', 1, [vm('v1', 'n3', 'paused')]), 200);
    m.observeStatus(status('n2', 1, [vm('v2', 'n2', 'running'), vm('v3', 'n2', 'sleeping')], 50), 90);
    expect(place(250)).toMatchObject({ v1: ['paused', 'n3'], v2: ['sleeping', 'n2'] });
    // A stopped VM is gone at once.
    m.observeResult('v3', { state: 'terminated' }, 300);
    expect(place(300).v3).toBeUndefined();
  });

  it('ignores a result that puts a VM on an offline node, and forgets unconfirmed results after the silence window', () => {
    const m = new ClusterMonitor({ periodMs: 1000 });
    const r = registry();
    m.observeStatus(status('n1', 0, [vm('v1', 'n1')]), 0);
    m.observeStatus(status('n2', 0, [vm('v2', 'n2'), vm('v3', 'n2', 'sleeping')]), 0);
    m.observeResult('v4', { state: 'running', host: 'n9' }, 10);
    expect(m.view(20, r).configuration.vms.find((v) => v.id === 'v4')).toMatchObject({ state: 'waiting' });
    m.observeResult('v4', { state: 'terminated' }, 30);
    expect(m.view(40, r).configuration.vms.find((v) => v.id === 'v4')).toBeUndefined();
    m.observeStatus(status('n1', 1, [vm('v1', 'n1')]), 3000);
    m.observeStatus(status('n2', 1, [vm('v2', 'n2'), vm('v3', 'n2', 'sleeping')]), 3000);
    m.sweep(3100);
    expect(m.view(3100, r).configuration.vms.find((v) => v.id === 'v4')).toMatchObject({ state: 'waiting' });
  });

  it("takes a node powered off by a plan offline at once, ignores its old agent, and brings it back with a new agent's hello and status", () => {
    const m = new ClusterMonitor({ periodMs: 1000 });
    const hello = (startedAt: number, pid: number) => ({
      node: 'n3',
      driver: 'sim',
      capacity: { cpu: 4, mem: 4096 },
      startedAt,
      pid,
    });
    m.observeHello(hello(1, 100), 0);
    m.observeStatus(status('n3', 0, []), 10);
    expect(m.sweep(20)).toEqual({ wentOffline: [], cameOnline: ['n3'], forgotten: [] });
    m.markPoweredOff('n3', 100);
    // No three silent periods: offline now, and reported by the next sweep.
    expect(m.livenessOf('n3', 100)).toBe('offline');
    expect(m.sweep(101)).toEqual({ wentOffline: ['n3'], cameOnline: [], forgotten: [] });
    expect(m.view(101).nodes).toEqual([expect.objectContaining({ id: 'n3', liveness: 'offline', poweredOff: true })]);
    expect(m.view(101).configuration.nodes).toEqual([{ id: 'n3', capacity: { cpu: 4, mem: 4096 }, state: 'offline' }]);
    // The old agent's last words change nothing.
    m.observeStatus(status('n3', 1, []), 150);
    m.observeHello(hello(1, 100), 160);
    expect(m.livenessOf('n3', 200)).toBe('offline');
    expect(m.bootedSince('n3', 0, 200)).toBe(false);
    // A boot: a new agent process says hello, then reports.
    m.observeHello(hello(5000, 200), 5000);
    expect(m.isPoweredOff('n3')).toBe(false);
    expect(m.livenessOf('n3', 5000)).toBe('pending');
    expect(m.bootedSince('n3', 4000, 5000)).toBe(false);
    m.observeStatus(status('n3', 0, []), 5100);
    expect(m.bootedSince('n3', 4000, 5100)).toBe(true);
    expect(m.bootedSince('n3', 5050, 5100)).toBe(false);
    expect(m.sweep(5100)).toEqual({ wentOffline: [], cameOnline: ['n3'], forgotten: [] });
  });

  it('forgets nodes that said hello and never reported, after ten silence windows: 2,000 forged hellos leave no node behind', () => {
    const m = new ClusterMonitor({ periodMs: 1000 });
    for (let i = 0; i < 2000; i++)
      m.observeHello({ node: `ghost${i}`, driver: 'sim', capacity: { cpu: 1, mem: 1 }, startedAt: 0 }, i);
    m.observeHello({ node: 'n1', driver: 'sim', capacity: { cpu: 4, mem: 4096 }, startedAt: 0 }, 0);
    for (let t = 0; t <= 32_000; t += 1000) m.observeStatus(status('n1', t / 1000, []), t);
    expect(m.nodeViews(2000)).toHaveLength(2001);
    expect(m.sweep(2000).forgotten).toEqual([]);
    const later = m.sweep(32_000);
    expect(later.forgotten).toHaveLength(2000);
    expect(m.nodeViews(32_000).map((n) => [n.id, n.liveness])).toEqual([['n1', 'online']]);
  });

  it('forgets a silent node once it was reported offline and stayed silent for forgetAfterMs; a node a plan powered off stays', () => {
    const m = new ClusterMonitor({ periodMs: 1000, forgetAfterMs: 60_000 });
    m.observeStatus(status('n1', 0, [vm('v1', 'n1')]), 0);
    m.observeStatus(status('n2', 0, []), 0);
    m.sweep(0);
    m.markPoweredOff('n2', 10);
    expect(m.sweep(3001)).toEqual({ wentOffline: ['n1', 'n2'], cameOnline: [], forgotten: [] });
    expect(m.sweep(59_000).forgotten).toEqual([]);
    expect(m.sweep(60_001).forgotten).toEqual(['n1']);
    expect(m.nodeViews(60_001).map((n) => n.id)).toEqual(['n2']);
    // The agent comes back: a node again, online with its next status.
    m.observeStatus(status('n1', 1, [vm('v1', 'n1')]), 61_000);
    expect(m.sweep(61_000)).toEqual({ wentOffline: [], cameOnline: ['n1'], forgotten: [] });
  });

  it('never forgets a node before it was reported offline, even when it falls silent between two sweeps for longer than forgetAfterMs', () => {
    const m = new ClusterMonitor({ periodMs: 1000, forgetAfterMs: 3000 });
    m.observeStatus(status('n1', 0, []), 0);
    m.sweep(0);
    expect(m.sweep(10_000)).toEqual({ wentOffline: ['n1'], cameOnline: [], forgotten: [] });
    expect(m.sweep(10_001).forgotten).toEqual(['n1']);
  });
});
