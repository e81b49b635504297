import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildPlanView, checkConstraints, type Configuration, type Constraint, parseInstance } from '@entropy/engine';
import { type StatusReply, silentLogger } from '@entropy/protocol';
import { StreamJournal } from '../packages/controller/src/journal/stream-journal.ts';
import { KvQueueStore, queueBucketOf } from '../packages/controller/src/queue/kv-queue-store.ts';
import { type ControllerCluster, startControllerCluster } from './helpers/controller-cluster.ts';
import { controllerStatus } from './helpers/controller-status.ts';
import { entropy, logLines, stopProcess } from './helpers/entropy-process.ts';
import { waitFor } from './helpers/wait-for.ts';

const prefix = `cons${process.pid}`;
const NODES = ['n1', 'n2', 'n3', 'n4', 'n5'];
const instance = parseInstance({ nodes: NODES.map((id) => ({ id, cpu: 4, mem: 4096 })), vms: [], vjobs: [] });

/** The VMs running (or paused) on each node in a status reply. */
const placement = (st: StatusReply) =>
  new Map(st.vms.filter((v) => v.host && (v.state === 'running' || v.state === 'paused')).map((v) => [v.id, v.host!]));

/** A status reply as a configuration, for the engine's constraint checker. */
const configurationOf = (st: StatusReply): Configuration => ({
  nodes: st.nodes.map((n) => ({
    id: n.id,
    capacity: n.capacity,
    state: n.liveness === 'online' ? 'online' : 'offline',
  })),
  vms: st.vms.map((v) => ({
    id: v.id,
    vjob: v.vjob,
    demand: v.demand,
    state: v.state === 'crashed' || v.state === 'unknown' ? 'terminated' : v.state,
    ...(v.host ? { host: v.host } : {}),
  })),
  vjobs: [...new Set(st.vms.map((v) => v.vjob))].map((id) => ({
    id,
    vms: st.vms.filter((v) => v.vjob === id).map((v) => v.id),
    priority: 0,
    submittedAt: 0,
  })),
});

/**
 * Constraints through the control loop, against a real nats-server (JetStream), the real
 * controller process and one real sim agent process per node: a vjob file's spread and ban, the
 * controller's reloadable constraints file, and `entropy node drain|undrain`. A sampler reads the
 * controller's status every 100 ms all along and checks each snapshot; the journal of every plan
 * the controller executed is read at the end.
 */
describe('constraints in the control loop: vjob files, the constraints file, node drain', () => {
  const dir = mkdtempSync(join(tmpdir(), 'entropy-constraints-'));
  const constraintsFile = join(dir, 'cluster-constraints.json');
  let cluster: ControllerCluster;
  const cli = (...args: string[]) => entropy(...args, '--nats', cluster.server.url, '--prefix', prefix);
  const status = () => controllerStatus(cluster.nc, prefix);
  /** Every snapshot that broke a rule, with when. */
  const broken: string[] = [];
  let drainedAt: number | undefined;
  let undrainedAt: number | undefined;
  let sampling = true;
  let samples = 0;
  let sampler: Promise<void> | undefined;

  const vjobFile = (id: string, count: number, constraints?: unknown[]) => {
    const file = join(dir, `${id}.json`);
    const vms = Array.from({ length: count }, (_, i) => ({ id: `${id}-vm${i + 1}`, cpu: 1, mem: 512 }));
    writeFileSync(file, JSON.stringify({ id, vms, ...(constraints ? { constraints } : {}) }));
    return file;
  };
  const running = async (vjob: string, count: number) =>
    waitFor(`${count} VMs of ${vjob} running`, async () => {
      const st = await status().catch(() => undefined);
      const vms = st?.vms.filter((v) => v.vjob === vjob && v.state === 'running') ?? [];
      return vms.length === count ? st : undefined;
    });

  beforeAll(async () => {
    writeFileSync(constraintsFile, JSON.stringify({ constraints: [{ type: 'ban', vjob: 'later', nodes: ['n5'] }] }));
    cluster = await startControllerCluster({
      prefix,
      instance,
      speed: 20,
      controllerArgs: ['--loop-interval', '1000', '--log-level', 'debug', '--constraints', constraintsFile],
    });
    sampler = (async () => {
      while (sampling) {
        const st = await status().catch(() => undefined);
        if (st) {
          samples++;
          const at = placement(st);
          const j1 = [...at].filter(([vm]) => vm.startsWith('j1-'));
          if (new Set(j1.map(([, n]) => n)).size < j1.length) broken.push(`spread(j1) broken: ${JSON.stringify(j1)}`);
          for (const [vm, n] of j1) if (n === 'n1') broken.push(`ban(${vm}, n1) broken`);
          // Once drain --wait has returned (the node empty), nothing runs there until the undrain.
          if (drainedAt !== undefined && undrainedAt === undefined)
            for (const [vm, n] of at) if (n === 'n2') broken.push(`${vm} runs on drained n2`);
        }
        await new Promise((r) => setTimeout(r, 100));
      }
    })();
  });

  afterAll(async () => {
    sampling = false;
    await sampler;
    if (process.env.ENTROPY_TEST_LOG) writeFileSync(process.env.ENTROPY_TEST_LOG, cluster?.controller.log() ?? '');
    await cluster?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('a vjob file with spread and ban: its VMs run on three different nodes, none on n1', async () => {
    const r = await cli(
      'submit',
      vjobFile('j1', 3, [
        { type: 'spread', vjob: 'j1' },
        { type: 'ban', vjob: 'j1', nodes: ['n1'] },
      ]),
    );
    expect(r.stdout).toMatch(/^vjob j1 submitted: waiting \(3 VMs/);
    const st = await running('j1', 3);
    const hosts = st.vms.filter((v) => v.vjob === 'j1').map((v) => v.host);
    expect(new Set(hosts).size).toBe(3);
    expect(hosts).not.toContain('n1');
    // A vjob file naming another vjob's VM is refused by the CLI with its path.
    const bad = await cli('submit', vjobFile('jx', 1, [{ type: 'root', vm: 'j1-vm1' }]));
    expect(bad.status).toBe(1);
    expect(bad.stderr).toContain("$.constraints[0].vm: VM 'j1-vm1' is not in vjob jx");
    await cli('submit', vjobFile('j2', 2));
    await running('j2', 2);
  });

  it('entropy node drain n2 empties n2 and keeps it empty while more vjobs are submitted; status shows it drained', async () => {
    const r = await cli('node', 'drain', 'n2', '--wait', '90000');
    expect(r.stderr).toBe('');
    expect(r.stdout).toMatch(/^node n2 drained \(online now\)/);
    expect(r.stdout.trim()).toMatch(/node n2 runs no VM$/);
    expect(r.status).toBe(0);
    drainedAt = Date.now();
    const st = await status();
    expect(st.nodes.find((n) => n.id === 'n2')).toMatchObject({ liveness: 'online', drained: true });
    expect((await cli('status')).stdout).toMatch(/n2\s+online drained/);

    await cli('submit', vjobFile('j3', 3));
    const after = await running('j3', 3);
    expect([...placement(after).values()]).not.toContain('n2');
    // A vjob that may only run on n2 waits for the undrain, and the other vjobs are not held back.
    await cli('submit', vjobFile('j4', 1, [{ type: 'fence', vjob: 'j4', nodes: ['n2'] }]));
    await waitFor('a turn that puts j4 off', () =>
      logLines(cluster.controller.log()).some(
        (l) => l.msg === 'control loop turn' && Array.isArray(l.deferred) && (l.deferred as string[]).includes('j4'),
      ),
    );
    expect((await status()).vms.find((v) => v.id === 'j4-vm1')?.state).toBe('waiting');
    // entropy explain names the two constraints that keep it waiting, not a lack of room (n3..n5 have room).
    const ex = await cli('explain', 'j4');
    expect(ex.status).toBe(0);
    expect(ex.stdout).toMatch(/fence\(j4-vm1, \{n2\}/);
    expect(ex.stdout).toMatch(/runningCapacity\(\{n2\}, <= 0/);
  });

  it('the drain and the vjob constraints are in the queue store: a restarted controller keeps both', async () => {
    const store = await KvQueueStore.open(cluster.nc, queueBucketOf(prefix));
    expect((await store.get('j1'))?.constraints).toEqual([
      { type: 'spread', vms: ['j1-vm1', 'j1-vm2', 'j1-vm3'], continuous: true },
      { type: 'ban', vm: 'j1-vm1', nodes: ['n1'], continuous: false },
      { type: 'ban', vm: 'j1-vm2', nodes: ['n1'], continuous: false },
      { type: 'ban', vm: 'j1-vm3', nodes: ['n1'], continuous: false },
    ]);
    expect((await store.nodePower()).n2).toEqual({ drained: true });
    await stopProcess(cluster.controller);
    await cluster.restart();
    await waitFor('the restarted controller to show n2 drained', async () =>
      (await status().catch(() => undefined))?.nodes.some((n) => n.id === 'n2' && n.drained === true),
    );
    // A few turns of the new controller: j4 still waits, nothing arrives on n2.
    await waitFor('the new controller to put j4 off', () =>
      logLines(cluster.controller.log()).some(
        (l) => l.msg === 'control loop turn' && Array.isArray(l.deferred) && (l.deferred as string[]).includes('j4'),
      ),
    );
    expect((await status()).vms.find((v) => v.id === 'j4-vm1')?.state).toBe('waiting');
    // The new controller explains it the same way.
    const ex = await cli('explain', 'j4');
    expect(ex.status).toBe(0);
    expect(ex.stdout).toMatch(/fence\(j4-vm1, \{n2\}/);
    expect(ex.stdout).toMatch(/runningCapacity\(\{n2\}, <= 0/);
  });

  it('a bad constraints file is refused on reload and the previous constraints stay; a good one applies', async () => {
    const log = () => logLines(cluster.controller.log());
    writeFileSync(constraintsFile, '{"constraints": [{"type": "ban", "vjob": "j3"');
    cluster.controller.child.kill('SIGHUP');
    const refused = await waitFor('the reload refused', () =>
      log().find((l) => l.msg === 'constraints file not reloaded: the previous constraints stay'),
    );
    expect(refused).toMatchObject({ level: 50, file: constraintsFile, code: 'ENTROPY_INVALID_CONSTRAINTS' });
    expect(cluster.controller.child.exitCode).toBeNull();
    // The previous file's entry still counts: it names a vjob the cluster lacks, so each turn skips it.
    const skipped = "constraints file: $.constraints[0].vjob skipped this turn: vjob 'later' is not in the cluster";
    const before = log().length;
    await waitFor('a turn with the previous constraints', () =>
      log()
        .slice(before)
        .some((l) => Array.isArray(l.reasons) && (l.reasons as string[]).includes(skipped)),
    );

    // Ban j3 from the node its first VM is on: the file is seen changed (no SIGHUP) and the VM moves.
    const from = placement(await status()).get('j3-vm1')!;
    writeFileSync(constraintsFile, JSON.stringify({ constraints: [{ type: 'ban', vjob: 'j3', nodes: [from] }] }));
    await waitFor('the reload', () =>
      log().some((l) => l.msg === 'cluster constraints reloaded' && l.trigger === 'file-changed'),
    );
    await waitFor(`j3-vm1 off ${from}`, async () => {
      const at = placement(await status());
      return at.has('j3-vm1') && at.get('j3-vm1') !== from;
    });
  });

  it('entropy node undrain n2: the vjob fenced to n2 runs there', async () => {
    // From the request on, n2 may be used again.
    undrainedAt = Date.now();
    const r = await cli('node', 'undrain', 'n2');
    expect(r.stdout).toMatch(/^node n2 undrained \(online now\): VMs may run on n2 again/);
    await running('j4', 1);
    expect(placement(await status()).get('j4-vm1')).toBe('n2');
    expect((await status()).nodes.find((n) => n.id === 'n2')?.drained).toBeUndefined();
  });

  it('every plan the controller executed kept the constraints, and so does the final placement', async () => {
    sampling = false;
    await sampler;
    expect(samples).toBeGreaterThan(10);
    expect(broken).toEqual([]);
    const lines = [...logLines(cluster.controller.log())];
    expect(lines.some((l) => l.outcome === 'not-executable')).toBe(false);

    // The journal of every plan: no arrival on n1 for j1, none on n2 while it was drained.
    const journal = await StreamJournal.open(cluster.nc, { prefix, logger: silentLogger });
    const plans = await journal.plans();
    expect(plans.length).toBeGreaterThanOrEqual(5);
    let arrivals = 0;
    for (const planId of plans)
      for (const r of await journal.read(planId)) {
        if (r.kind !== 'intent' || r.to === undefined) continue;
        arrivals++;
        if (r.vjob === 'j1') expect(r.to, `${planId}: ${r.type} ${r.vm}`).not.toBe('n1');
        if (r.to === 'n2' && r.at > drainedAt! && r.at < undrainedAt!)
          throw new Error(`${planId}: ${r.type} ${r.vm} to drained n2`);
      }
    expect(arrivals).toBeGreaterThanOrEqual(10);

    const st = await status();
    const constraints: Constraint[] = [
      { type: 'spread', vms: ['j1-vm1', 'j1-vm2', 'j1-vm3'], continuous: false },
      ...['j1-vm1', 'j1-vm2', 'j1-vm3'].map(
        (vm): Constraint => ({ type: 'ban', vm, nodes: ['n1'], continuous: false }),
      ),
      { type: 'fence', vm: 'j4-vm1', nodes: ['n2'], continuous: false },
    ];
    expect(checkConstraints(buildPlanView(configurationOf(st), []), constraints)).toBeUndefined();
  });
});
