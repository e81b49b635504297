import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decode, decodeControl, encode, encodeControl, type QueueReply, subjects } from '@entropy/protocol';
import { askController, connectNats, type NatsConnection } from '../packages/controller/src/controller/nats-connect.ts';
import { parseInstance } from '@entropy/engine';
import { KvQueueStore, queueBucketOf } from '../packages/controller/src/queue/kv-queue-store.ts';
import { startSimCluster, waitFor, type SimCluster } from './executor-cluster.ts';
import {
  type ControllerProcess,
  entropy,
  logLines,
  startControllerProcess as startController,
  stopProcess,
} from './helpers/entropy-process.ts';
import { controllerStatus } from './helpers/controller-status.ts';
import { type NatsServer, startNatsServer } from './helpers/nats-server.ts';

// Debug level: quiet timer turns are logged there, and the tests count turns.
const startControllerProcess = (url: string, prefix: string, ...extra: string[]) =>
  startController(url, prefix, '--loop-interval', '1000', '--log-level', 'debug', ...extra);

describe('the control loop: submit, queue and cancel against a real controller, nats-server (JetStream) and sim agents', () => {
  const prefix = 'cl';
  const dir = mkdtempSync(join(tmpdir(), 'entropy-control-loop-'));
  // Each node holds one 3000 MiB VM: a vjob of two such VMs takes the whole cluster.
  const nodes = parseInstance({
    nodes: [
      { id: 'k1', cpu: 4, mem: 4096 },
      { id: 'k2', cpu: 4, mem: 4096 },
    ],
    vms: [],
    vjobs: [],
  });
  const vjobFile = (id: string) => {
    const file = join(dir, `${id}.json`);
    writeFileSync(
      file,
      JSON.stringify({
        id,
        priority: 0,
        vms: [
          { id: `${id}-vm1`, cpu: 1, mem: 3000 },
          { id: `${id}-vm2`, cpu: 1, mem: 3000 },
        ],
      }),
    );
    return file;
  };
  let server: NatsServer;
  let nc: NatsConnection;
  let agents: SimCluster;
  let controller: ControllerProcess;
  const cli = (...args: string[]) => entropy(...args, '--nats', server.url, '--prefix', prefix);

  const queue = async (p = prefix): Promise<Extract<QueueReply, { ok: true }>> => {
    const r = await askController(
      nc,
      { subjects: subjects(p), url: server.url },
      'queue',
      encodeControl('queueRequest', {}),
      'queueReply',
      10_000,
    );
    if (!r.ok) throw new Error(`bad queue reply: ${JSON.stringify(r)}`);
    return r;
  };
  const stateOf = async (id: string, p = prefix) =>
    (await queue(p).catch(() => undefined))?.vjobs.find((v) => v.id === id);
  /** True when every node the controller knows reports no action in flight. */
  const agentsIdle = async () => {
    const st = await controllerStatus(nc, prefix).catch(() => undefined);
    return !!st && st.nodes.length > 0 && st.nodes.every((n) => n.inFlight === 0);
  };
  const waitState = (id: string, state: string) =>
    waitFor(`vjob ${id} ${state}`, async () => (await stateOf(id))?.state === state);

  beforeAll(async () => {
    server = await startNatsServer({ jetstream: true });
    nc = await connectNats(server.url, 'test-control-loop');
    controller = startControllerProcess(server.url, prefix, '--policy', 'fifo-ffd', '--queue-store', 'kv');
    await waitFor('the controller to start', () => controller.log().includes('controller started'));
    agents = startSimCluster(nodes, { url: server.url, prefix, statusIntervalMs: 500, speed: 50 });
    await waitFor(
      'both agents online',
      async () =>
        (await controllerStatus(nc, prefix).catch(() => undefined))?.nodes.filter((n) => n.liveness === 'online')
          .length === 2,
    );
  });

  afterAll(async () => {
    await stopProcess(controller);
    await agents?.stop();
    await nc?.close();
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('runs the first of two vjobs that cannot both run, keeps the second waiting, and runs it once the first is cancelled', async () => {
    const first = await cli('submit', vjobFile('big1'));
    expect(first.status, first.stderr).toBe(0);
    expect(first.stdout).toMatch(/^vjob big1 submitted: waiting \(2 VMs, priority 0\)/);
    await waitState('big1', 'running');
    const second = await cli('submit', vjobFile('big2'));
    expect(second.status, second.stderr).toBe(0);

    // Several turns later the second still waits: there is no room for it.
    const log = controller.log();
    await waitFor('two more turns', () => controller.log().slice(log.length).split('"control loop turn"').length > 2);
    const table = await cli('queue');
    expect(table.status, table.stderr).toBe(0);
    expect(table.stdout).toMatch(/policy fifo-ffd, queue in JetStream KV: 2 vjobs/);
    expect(table.stdout).toMatch(
      /^big1\s+running\s+0\s+\d+\.\d\d\s+\S+ ago\s+2\s+k1,k2|^big1\s+running\s+0\s+\d+\.\d\d\s+\S+ ago\s+2\s+k2,k1/m,
    );
    expect(table.stdout).toMatch(/^big2\s+waiting\s+0\s/m);
    const json = JSON.parse((await cli('queue', '--json')).stdout) as Extract<QueueReply, { ok: true }>;
    expect(json.vjobs.map((v) => [v.id, v.state])).toEqual([
      ['big1', 'running'],
      ['big2', 'waiting'],
    ]);
    expect(json.vjobs[0]!.vms.map((vm) => vm.state)).toEqual(['running', 'running']);

    const cancel = await cli('cancel', 'big1');
    expect(cancel.status, cancel.stderr).toBe(0);
    expect(cancel.stdout).toMatch(/^vjob big1 is running: cancel requested/);
    await waitState('big2', 'running');
    const ended = await stateOf('big1');
    expect(ended).toMatchObject({ state: 'terminated', end: 'cancelled' });

    // Every turn is one pino JSON line; the turn that started a plan names it, its actions and the decision.
    const turns = logLines(controller.log()).filter((l) => l.msg === 'control loop turn');
    const started = turns.filter((l) => l.outcome === 'plan-started');
    expect(started.length).toBeGreaterThanOrEqual(2);
    expect(started[0]).toMatchObject({ policy: 'fifo-ffd', decision: { big1: 'running' }, byType: { run: 2 } });
    expect(started[0]!.planId).toMatch(/^loop1-/);
    expect(
      started.some(
        (t) =>
          (t.decision as Record<string, string>).big1 === 'terminated' ||
          (t.decision as Record<string, string>).big2 === 'running',
      ),
    ).toBe(true);
  });

  it('cancels a waiting vjob at once, and refuses an unknown id or a duplicate submission', async () => {
    expect((await cli('submit', vjobFile('big3'))).stdout).toMatch(/big3 submitted: waiting/);
    const again = await cli('submit', vjobFile('big3'));
    expect(again.status).toBe(1);
    expect(again.stdout).toMatch(/submit refused \(ENTROPY_CONFLICT\): vjob big3 exists already/);
    const unknown = await cli('cancel', 'nope');
    expect(unknown.status).toBe(1);
    expect(unknown.stdout).toMatch(/ENTROPY_UNKNOWN_VJOB/);
    expect((await cli('submit', vjobFile('big4'))).status).toBe(0);
    const cancel = await cli('cancel', 'big4');
    expect(cancel.status, cancel.stderr).toBe(0);
    expect(cancel.stdout).toMatch(/^vjob big4 cancelled: terminated/);
    expect(await stateOf('big4')).toMatchObject({ state: 'terminated', end: 'cancelled' });
    await waitState('big3', 'waiting');
  });

  it('rejects an invalid vjob file locally, naming the JSON path', async () => {
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, JSON.stringify({ id: 'bad', vms: [{ id: 'x', cpu: -1, mem: 10 }] }));
    const r = await cli('submit', bad);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/^error: .*bad\.json: \$\.vms\[0\]\.cpu: must not be negative/);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it('answers malformed submit, queue and cancel requests with ENTROPY_BAD_REQUEST and keeps running', async () => {
    const s = subjects(prefix);
    for (const verb of ['submit', 'queue', 'cancel'] as const) {
      const m = await nc.request(s.control(verb), new Uint8Array([0xc1]), { timeout: 10_000 });
      const r = decodeControl('cancelReply', m.data);
      expect(r.ok && r.msg).toMatchObject({ ok: false, error: { code: 'ENTROPY_BAD_REQUEST' } });
    }
    const dup = await nc.request(s.control('submit'), encodeControl('queueRequest', {}), { timeout: 10_000 });
    expect(decodeControl('submitReply', dup.data)).toMatchObject({
      ok: true,
      msg: { ok: false, error: { code: 'ENTROPY_BAD_REQUEST', field: '$.vjob' } },
    });
    const bad = await nc.request(s.control('cancel'), encodeControl('queueRequest', {}), { timeout: 10_000 });
    expect(decodeControl('cancelReply', bad.data)).toMatchObject({
      ok: true,
      msg: { ok: false, error: { code: 'ENTROPY_BAD_REQUEST', field: '$.id' } },
    });
    expect(controller.child.exitCode).toBeNull();
    expect((await queue()).vjobs.length).toBeGreaterThan(0);
  });

  it('loses no vjob when the controller is killed (-9) and restarted: the queue comes back from JetStream KV', async () => {
    const before = (await queue()).vjobs.map((v) => [v.id, v.state]);
    await stopProcess(controller, 'SIGKILL');
    // The plans so far were recorded with their outcome; as if the kill had cut one short, the latest is set back to running.
    const store = await KvQueueStore.open(nc, queueBucketOf(prefix));
    const last = await store.lastPlan();
    expect(last).toMatchObject({ status: 'completed', mode: 'barrier', done: last?.actions });
    await store.recordPlan({ ...last!, planId: 'cut-short', status: 'running' });
    controller = startControllerProcess(server.url, prefix, '--policy', 'fifo-ffd', '--queue-store', 'kv');
    await waitFor('the controller to restart', () => controller.log().includes('"msg":"connected"'));
    // It leads once the killed controller's lease has expired, and then closes the plan it left.
    await waitFor('the restarted controller to lead', () =>
      logLines(controller.log()).some((l) => l.planId === 'cut-short'),
    );
    expect(logLines(controller.log()).find((l) => l.planId === 'cut-short')).toMatchObject({
      level: 40,
      msg: expect.stringContaining('interrupted by a controller stop'),
    });
    expect(await store.lastPlan()).toMatchObject({ planId: 'cut-short', status: 'interrupted' });
    expect(logLines(controller.log()).find((l) => l.msg === 'connected')).toMatchObject({
      store: 'kv',
      policy: 'fifo-ffd',
    });
    // The agents still run big2's VMs: once they have reported, the queue reads as before the kill.
    await waitFor(
      'the restarted controller to observe the cluster',
      async () => (await stateOf('big2'))?.vms.every((vm) => vm.state === 'running') ?? false,
    );
    expect((await queue()).vjobs.map((v) => [v.id, v.state])).toEqual(before);
    expect(await stateOf('big1')).toMatchObject({ state: 'terminated', end: 'cancelled' });
    // And it keeps scheduling: big3 still waits for room, and runs once big2 is cancelled.
    expect((await cli('cancel', 'big2')).status).toBe(0);
    await waitState('big3', 'running');
  });

  it("marks a vjob finished once the agents report all its VMs gone (here stopped behind the loop's back)", async () => {
    // An agent may report a VM running while its run is still in progress: wait for the agents to be idle too.
    const big3 = await waitFor('big3 running with every VM on a host, no action in flight', async () => {
      const v = await stateOf('big3');
      return v?.state === 'running' && v.vms.every((vm) => vm.host !== undefined) && (await agentsIdle()) && v;
    });
    for (const vm of big3.vms) {
      const request = {
        actionId: `outside-${vm.id}`,
        planId: 'outside',
        type: 'stop' as const,
        vm: vm.id,
        vjob: 'big3',
        demand: { cpu: 1, mem: 3000 },
        from: vm.host!,
        estimatedMs: 10,
        timeoutMs: 10_000,
      };
      const m = await nc.request(subjects(prefix).nodeAction(vm.host!), encode('actionRequest', request), {
        timeout: 10_000,
      });
      const r = decode('actionResult', m.data);
      expect(r.ok && r.msg.ok, JSON.stringify(r)).toBe(true);
    }
    await waitState('big3', 'terminated').catch((err) => {
      console.log(
        controller
          .log()
          .split('\n')
          .filter((l) => !l.includes('no-change'))
          .join('\n'),
      );
      throw err;
    });
    expect(await stateOf('big3')).toMatchObject({ end: 'finished' });
    expect(
      logLines(controller.log()).some((l) => l.msg === 'vjob finished: all its VMs are gone' && l.vjob === 'big3'),
    ).toBe(true);
  });

  it('reports a policy that throws and keeps running, answering requests', async () => {
    const broken = join(dir, 'broken-policy.mjs');
    writeFileSync(broken, "export default { name: 'broken', decide() { throw new Error('broken on purpose'); } };\n");
    const other = startControllerProcess(server.url, 'clb', '--policy', broken, '--queue-store', 'memory');
    try {
      await waitFor('the second controller to start', () => other.log().includes('controller started'));
      const sub = await entropy('submit', vjobFile('small1'), '--nats', server.url, '--prefix', 'clb');
      expect(sub.status, sub.stdout + sub.stderr).toBe(0);
      await waitFor('the policy error in the log', () =>
        logLines(other.log()).find((l) => l.msg === 'policy failed: the loop keeps the last good decision'),
      );
      const line = logLines(other.log()).find((l) => l.msg === 'policy failed: the loop keeps the last good decision')!;
      expect(line).toMatchObject({ policy: 'broken', code: 'ENTROPY_POLICY_FAILED' });
      expect(line.err).toMatch(/policy 'broken' threw: broken on purpose/);
      const log = other.log();
      await waitFor('another turn', () => other.log().slice(log.length).includes('policy failed'));
      expect(other.child.exitCode).toBeNull();
      expect((await queue('clb')).vjobs.map((v) => [v.id, v.state])).toEqual([['small1', 'waiting']]);
    } finally {
      await stopProcess(other);
    }
  });

  it('exits 1 with a one-line error for an unknown policy', async () => {
    const r = await entropy('controller', '--nats', server.url, '--prefix', 'clx', '--policy', 'nosuch');
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/^error: unknown policy 'nosuch': built-in policies are fcfs, fifo-ffd, consolidate/m);
  });
});
