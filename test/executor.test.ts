import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type ApplyReply,
  type ApplyRequest,
  decode,
  type NodeStatus,
  subjects,
  type Subjects,
} from '@entropy/protocol';
import { type Controller, silentLogger, startController } from '../packages/controller/src/controller/index.ts';
import { connectNats, type NatsConnection } from '../packages/controller/src/controller/nats-connect.ts';
import { parseInstance, type Instance } from '@entropy/engine';
import { startSimCluster, waitFor, type SimCluster, type SimClusterOptions } from './executor-cluster.ts';
import { type NatsServer, startNatsServer } from './helpers/nats-server.ts';

const STATUS_MS = 500;

type Ok<T> = T extends { ok: true } ? T : never;

function applyRequest(instance: Instance, planId: string, decision = instance.decision): ApplyRequest {
  return {
    planId,
    decision: { ...decision },
    vms: instance.configuration.vms.map((v) => ({
      id: v.id,
      vjob: v.vjob,
      demand: { cpu: v.demand.cpu ?? 0, mem: v.demand.mem ?? 0 },
      state: v.state,
    })),
    vjobs: instance.configuration.vjobs.map((j) => ({ id: j.id, priority: j.priority, submittedAt: j.submittedAt })),
  };
}

/**
 * Watches the cluster as an operator would (`nats sub 'entropy.>'`): every node status and the
 * plans' progress. `halfPauses()` replays what was seen on the agents' and the controller's clock
 * (the `ts` fields; one machine): at each status snapshot, each VM's state is the newer of the
 * latest snapshot of its node and the end of its latest pause or unpause in the progress stream
 * (an agent publishes its status shortly after its actions' results, so the results are the
 * fresher account at a step's end). A vjob with VMs running and others paused while none of its
 * pauses or unpauses is in flight was observed half paused.
 */
class ClusterWatch {
  readonly latest = new Map<string, { status: NodeStatus; at: number }>();
  private readonly snapshots: NodeStatus[] = [];
  private readonly gangEvents: { vjob: string; ts: number; delta: 1 | -1 }[] = [];
  private readonly gang = new Map<string, { type: 'pause' | 'unpause'; vjob: string; vm: string }>();
  /** The state each gang action left its VM in, at the controller's ts. */
  private readonly gangDone: { vm: string; state: string; ts: number }[] = [];

  constructor(
    nc: NatsConnection,
    s: Subjects,
    private readonly vjobOf: ReadonlyMap<string, string>,
  ) {
    void (async () => {
      for await (const m of nc.subscribe(s.allNodeStatus())) {
        const r = decode('status', m.data);
        if (!r.ok) continue;
        this.latest.set(r.msg.node, { status: r.msg, at: Date.now() });
        this.snapshots.push(r.msg);
      }
    })();
    void (async () => {
      for await (const m of nc.subscribe(s.allPlanProgress())) {
        const r = decode('progress', m.data);
        const g = r.ok && r.msg.actionId ? this.gang.get(r.msg.actionId) : undefined;
        if (!r.ok || !g) continue;
        if (r.msg.kind === 'action-started') this.gangEvents.push({ vjob: g.vjob, ts: r.msg.ts, delta: 1 });
        if (r.msg.kind === 'action-done' || r.msg.kind === 'action-failed')
          this.gangEvents.push({ vjob: g.vjob, ts: r.msg.ts, delta: -1 });
        if (r.msg.kind === 'action-done')
          this.gangDone.push({ vm: g.vm, state: g.type === 'pause' ? 'paused' : 'running', ts: r.msg.ts });
      }
    })();
  }

  /** Announces a plan's pauses and unpauses (and the unpauses that may undo its pauses). */
  expect(planId: string, reply: Ok<ApplyReply>): void {
    for (const a of reply.actions) {
      if (a.type === 'pause' || a.type === 'unpause')
        this.gang.set(`${planId}:${a.id}`, { type: a.type, vjob: a.vjob, vm: a.vm });
      if (a.type === 'pause') this.gang.set(`${planId}:undo-${a.id}`, { type: 'unpause', vjob: a.vjob, vm: a.vm });
    }
  }

  /** Where each VM is, by the freshest report of live nodes. */
  vms(): Map<string, { state: string; host: string }> {
    const out = new Map<string, { state: string; host: string; at: number }>();
    for (const { status, at } of this.latest.values()) {
      if (Date.now() - at > 3 * STATUS_MS) continue;
      for (const v of status.vms)
        if (!out.has(v.id) || out.get(v.id)!.at < at) out.set(v.id, { state: v.state, host: v.host, at });
    }
    return new Map([...out].map(([id, { state, host }]) => [id, { state, host }]));
  }

  /** Every instant a vjob was seen half paused outside its pause and unpause steps. */
  halfPauses(): string[] {
    const inFlightAt = (vjob: string, ts: number) =>
      this.gangEvents.filter((e) => e.vjob === vjob && e.ts <= ts).reduce((n, e) => n + e.delta, 0) > 0;
    const found: string[] = [];
    const latest = new Map<string, NodeStatus>();
    for (const snap of [...this.snapshots].sort((x, y) => x.ts - y.ts)) {
      latest.set(snap.node, snap);
      const byVm = new Map<string, { state: string; ts: number }>();
      for (const st of latest.values()) {
        if (snap.ts - st.ts > 3 * STATUS_MS) continue;
        for (const v of st.vms) if ((byVm.get(v.id)?.ts ?? -1) < st.ts) byVm.set(v.id, { state: v.state, ts: st.ts });
      }
      for (const d of this.gangDone)
        if (d.ts <= snap.ts && (byVm.get(d.vm)?.ts ?? -1) < d.ts) byVm.set(d.vm, { state: d.state, ts: d.ts });
      const states = new Map<string, Set<string>>();
      for (const [vm, { state }] of byVm) {
        const vjob = this.vjobOf.get(vm);
        if (vjob) states.set(vjob, (states.get(vjob) ?? new Set()).add(state));
      }
      for (const [vjob, set] of states)
        if (set.has('running') && set.has('paused') && !inFlightAt(vjob, snap.ts))
          found.push(`${vjob}: ${[...set].join('+')} at ts ${snap.ts} (${snap.node})`);
    }
    return found;
  }
}

/** The agents' options a suite chooses; the rest is the suite's cluster. */
type AgentChoices = Omit<SimClusterOptions, 'url' | 'prefix' | 'statusIntervalMs'>;

interface ClusterUnderTest {
  server: NatsServer;
  controller: Controller;
  cluster: SimCluster;
  watch: ClusterWatch;
}

/**
 * For one suite: a nats-server, a controller and a watch on their own connections, and a sim agent
 * process per node of the instance; `ready` waits until the suite can start. All stopped after it.
 */
function clusterPerSuite(
  instance: Instance,
  prefix: string,
  agents: AgentChoices,
  ready: (c: ClusterUnderTest) => Promise<void>,
): ClusterUnderTest {
  const c = {} as ClusterUnderTest;
  const connections: NatsConnection[] = [];
  beforeAll(async () => {
    c.server = await startNatsServer();
    const nc = await connectNats(c.server.url, 'test-controller');
    const watchNc = await connectNats(c.server.url, 'test-watch');
    connections.push(nc, watchNc);
    c.watch = new ClusterWatch(
      watchNc,
      subjects(prefix),
      new Map(instance.configuration.vms.map((v) => [v.id, v.vjob])),
    );
    c.controller = startController(nc, {
      prefix,
      logger: silentLogger,
      statusPeriodMs: STATUS_MS,
      name: 'test-controller',
    });
    await nc.flush();
    c.cluster = startSimCluster(instance, { url: c.server.url, prefix, statusIntervalMs: STATUS_MS, ...agents });
    await ready(c);
  });
  afterAll(async () => {
    await c.controller?.close();
    await c.cluster?.stop();
    for (const nc of connections) await nc.close();
    await c.server?.stop();
  });
  return c;
}

describe('executor end to end: reference cluster, real nats-server, 11 sim agent processes', () => {
  const reference = parseInstance(
    JSON.parse(readFileSync(resolve(import.meta.dirname, '../examples/reference.json'), 'utf8')),
  );
  const h = clusterPerSuite(reference, 'ref', { speed: 4 }, async (c) => {
    const hosted = reference.configuration.vms.filter((v) => v.host !== undefined).length;
    await waitFor('11 nodes online holding the reference VMs', () => {
      const view = c.controller.view();
      return (
        view.nodes.filter((n) => n.liveness === 'online').length === 11 &&
        view.nodes.reduce((k, n) => k + n.vms, 0) === hosted
      );
    });
  });

  it("executes the reference context switch; the agents' final report equals the plan's target", async () => {
    const request = applyRequest(reference, 'ref-1');
    // Before the plan, the monitor sees exactly the instance's configuration.
    h.controller.registry.register(reference.configuration);
    expect(h.controller.view().configuration.vms.map((v) => [v.id, v.state, v.host])).toEqual(
      [...reference.configuration.vms].sort((x, y) => x.id.localeCompare(y.id)).map((v) => [v.id, v.state, v.host]),
    );
    const reply = await h.controller.apply(request);
    if (!reply.ok) throw new Error(reply.error.message);
    h.watch.expect('ref-1', reply);
    expect(reply.executing).toBe(true);
    expect(new Set(reply.actions.map((a) => a.type))).toEqual(
      new Set(['pause', 'suspend', 'resume', 'migrate', 'unpause']),
    );
    await h.controller.idle();
    const outcome = h.controller.lastOutcome()!;
    expect(outcome.failures).toEqual([]);
    expect(outcome.status).toBe('completed');
    expect(outcome.completed).toHaveLength(reply.actions.length);
    expect(outcome.measuredMs).toBeGreaterThan(0);
    for (const c of outcome.completed) expect(c.durationMs).toBeGreaterThanOrEqual(0);

    const hostedTarget = Object.entries(reply.target).filter(
      ([, t]) => t.state === 'running' || t.state === 'sleeping',
    );
    const expected = new Map(hostedTarget.map(([vm, t]) => [vm, { state: t.state, host: t.host! }]));
    const reported = await waitFor(
      'agents to report the target',
      () => {
        const seen = h.watch.vms();
        return (
          [...expected].every(([vm, t]) => seen.get(vm)?.state === t.state && seen.get(vm)?.host === t.host) && seen
        );
      },
      30_000,
    );
    expect(new Map([...reported].sort())).toEqual(new Map([...expected].sort()));
    // The monitor agrees, and the cancelled vjob is gone for good.
    const view = h.controller.view();
    expect(view.excluded).toEqual([]);
    expect(view.configuration.vms.filter((v) => v.vjob === 'j8')).toEqual([]);
  });

  it("never shows a vjob's VMs half paused", () => {
    expect(h.watch.halfPauses()).toEqual([]);
    expect(h.watch.latest.size).toBe(11);
  });
});

describe('executor failures: real nats-server, 4 sim agent processes', () => {
  const dir = mkdtempSync(join(tmpdir(), 'entropy-executor-fail-'));
  const file = join(dir, 'small.json');
  writeFileSync(
    file,
    JSON.stringify({
      nodes: ['s1', 's2', 's3', 's4'].map((id) => ({ id, cpu: 4, mem: 8192 })),
      vms: [
        { id: 'f1-vm1', vjob: 'f1', cpu: 1, mem: 512, state: 'running', host: 's1' },
        { id: 'f1-vm2', vjob: 'f1', cpu: 1, mem: 512, state: 'running', host: 's2' },
        { id: 'f1-vm3', vjob: 'f1', cpu: 1, mem: 512, state: 'running', host: 's3' },
        { id: 'k1-vm1', vjob: 'k1', cpu: 1, mem: 4096, state: 'running', host: 's4' },
        { id: 'k1-vm2', vjob: 'k1', cpu: 1, mem: 256, state: 'running', host: 's3' },
      ],
      vjobs: [{ id: 'f1' }, { id: 'k1' }],
      decision: {},
    }),
  );
  const small = parseInstance(JSON.parse(readFileSync(file, 'utf8')));
  const h = clusterPerSuite(small, 'small', { speed: 1, failOn: { s2: ['f1-vm2'] } }, async (c) => {
    await waitFor(
      '4 nodes online',
      () => c.controller.view().nodes.filter((n) => n.liveness === 'online').length === 4,
    );
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('records an agent failure, stops, and unpauses the VMs of the half-paused vjob', async () => {
    const reply = await h.controller.apply(applyRequest(small, 'fail-1', { f1: 'sleeping' }));
    if (!reply.ok) throw new Error(reply.error.message);
    h.watch.expect('fail-1', reply);
    await h.controller.idle();
    const outcome = h.controller.lastOutcome()!;
    expect(outcome.status).toBe('failed');
    expect(outcome.failed).toMatchObject({
      action: { type: 'pause', vm: 'f1-vm2' },
      node: 's2',
      error: { code: 'ENTROPY_INJECTED_FAILURE' },
    });
    expect(outcome.undone.map((u) => [u.vm, u.ok]).sort()).toEqual([
      ['f1-vm1', true],
      ['f1-vm3', true],
    ]);
    expect(outcome.notStarted.map((a) => a.type)).toEqual(['suspend', 'suspend', 'suspend']);
    expect(outcome.leftPaused).toEqual([]);
    await waitFor(
      'f1 running whole on the agents',
      () => ['f1-vm1', 'f1-vm2', 'f1-vm3'].every((vm) => h.watch.vms().get(vm)?.state === 'running'),
      30_000,
    );
    expect(h.watch.halfPauses()).toEqual([]);
  });

  it('detects an agent killed mid-plan, fails its action as node lost, and stops cleanly', async () => {
    const reply = await h.controller.apply(applyRequest(small, 'kill-1', { k1: 'sleeping' }));
    if (!reply.ok) throw new Error(reply.error.message);
    h.watch.expect('kill-1', reply);
    // Kill s4 while it saves k1-vm1 (about 4 s at speed 1).
    const saving = reply.actions.find((a) => a.type === 'suspend' && a.vm === 'k1-vm1')!;
    const started = Date.now();
    await waitFor(
      'the save of k1-vm1 to start',
      () =>
        h.watch.latest.get('s4')?.status.inFlight === 1 && h.watch.vms().get('k1-vm1')?.state === 'paused' && saving,
    );
    await h.cluster.kill('s4');
    await h.controller.idle();
    const outcome = h.controller.lastOutcome()!;
    expect(outcome.status).toBe('failed');
    expect(outcome.failed).toMatchObject({
      action: { id: saving.id },
      node: 's4',
      uncertain: true,
      error: { code: 'ENTROPY_NODE_LOST' },
    });
    // Detected by the monitor (three silent periods), well before the action's own timeout.
    expect(Date.now() - started).toBeLessThan(saving.end - saving.start + 5000);
    expect(outcome.completed.map((c) => c.action.vm)).toContain('k1-vm2');
    expect(outcome.uncertainVms).toEqual(['k1-vm1']);
    const view = h.controller.view();
    expect(view.nodes.find((n) => n.id === 's4')!.liveness).toBe('offline');
    expect(view.excluded).toContainEqual({ vm: 'k1-vm1', vjob: 'k1', node: 's4', reason: 'node-offline' });
    // The controller still serves requests: a plan for k1 is refused, one for f1 still works.
    const refused = await h.controller.apply(applyRequest(small, 'kill-2', { k1: 'running' }));
    expect(refused).toMatchObject({ ok: false, error: { code: 'ENTROPY_INVALID_DECISION' } });
    expect(h.watch.halfPauses()).toEqual([]);
  });
});
