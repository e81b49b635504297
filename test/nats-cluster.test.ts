import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectNats, type NatsConnection } from '../packages/controller/src/controller/nats-connect.ts';
import { writeNatsConfig, type WrittenNatsConfig } from '../packages/controller/src/deploy/nats-config-command.ts';
import { agentUser, CONTROLLER_USER, OPERATOR_USER } from '../packages/controller/src/deploy/nats-roles.ts';
import { type AgentProcess, spawnAgent } from './helpers/agent-process.ts';
import {
  type ControllerProcess,
  ENTROPY,
  entropy,
  startControllerProcess,
  stopProcess,
} from './helpers/entropy-process.ts';
import { freePort } from './helpers/free-port.ts';
import { type NatsServer, startNatsServer } from './helpers/nats-server.ts';
import { waitFor } from './helpers/wait-for.ts';

/**
 * `entropy deploy nats-config --cluster 3` on one machine: three nats-servers with routes and
 * JetStream, the controller and four sim agents given all three URLs, the queue, the lease and the
 * plan journal kept on three servers. One server is killed while a plan runs: the plan completes
 * and the queue is intact.
 */

const NODES = ['n1', 'n2', 'n3', 'n4'];
const MEM = 3072;
/** j1 runs on n1 and n2 and goes to sleep; j2 sleeps on n3 and n4 and resumes: about 3 s of saves, then 3 s of restores. */
const INSTANCE = {
  nodes: NODES.map((id) => ({ id, cpu: 4, mem: 8192, state: 'online' })),
  vms: [
    { id: 'j1-a', vjob: 'j1', cpu: 1, mem: MEM, state: 'running', host: 'n1' },
    { id: 'j1-b', vjob: 'j1', cpu: 1, mem: MEM, state: 'running', host: 'n2' },
    { id: 'j2-a', vjob: 'j2', cpu: 1, mem: MEM, state: 'sleeping', host: 'n3' },
    { id: 'j2-b', vjob: 'j2', cpu: 1, mem: MEM, state: 'sleeping', host: 'n4' },
  ],
  vjobs: [
    { id: 'j1', priority: 0, submittedAt: 0 },
    { id: 'j2', priority: 0, submittedAt: 1 },
  ],
  decision: { j1: 'sleeping', j2: 'running' },
};

interface ClusterServer {
  readonly server: NatsServer;
  readonly monitorPort: number;
}

describe('a NATS cluster of three servers (entropy deploy nats-config --cluster 3)', () => {
  let dir = '';
  let auth: WrittenNatsConfig;
  const servers: ClusterServer[] = [];
  let urls = '';
  let controller: ControllerProcess | undefined;
  const agents: AgentProcess[] = [];
  let apply: ChildProcess | undefined;
  let nc: NatsConnection | undefined;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'entropy-nats-cluster-'));
    const ports = await Promise.all(Array.from({ length: 9 }, () => freePort()));
    const hosts = [0, 1, 2].map((i) => `127.0.0.1:${ports[i]}:${ports[i + 3]}`);
    auth = await writeNatsConfig({
      nodes: NODES,
      cluster: 3,
      clusterHosts: hosts,
      listen: '127.0.0.1:4222',
      out: join(dir, 'nats-server.conf'),
      storeDir: join(dir, 'js'),
      nkeys: true,
      simLink: true,
    });
    for (const [i, config] of auth.configs.entries()) {
      const server = await startNatsServer({
        config,
        dir: join(dir, `server-${i + 1}`),
        listen: { host: '127.0.0.1', port: ports[i]! },
        args: ['-m', String(ports[i + 6])],
      });
      servers.push({ server, monitorPort: ports[i + 6]! });
    }
    urls = auth.clientUrls!;
    expect(urls).toBe(servers.map((s) => s.server.url).join(','));
    nc = await connectNats({ nats: urls, creds: auth.creds(OPERATOR_USER) }, 'cluster-test');
  }, 120_000);

  afterAll(async () => {
    apply?.kill('SIGKILL');
    await stopProcess(controller);
    for (const a of agents) if (a.child.exitCode === null) a.child.kill('SIGTERM');
    await Promise.all(agents.map((a) => a.exited));
    await nc?.close();
    for (const s of servers) await s.server.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('writes three configs with routes, JetStream and the same users; every credentials file names the three servers', async () => {
    expect(auth.configs).toHaveLength(3);
    for (const [i, file] of auth.configs.entries()) {
      const text = await readFile(file, 'utf8');
      expect(text).toContain(`server_name: "entropy-${i + 1}"`);
      expect(text.match(/nats-route:\/\//g)).toHaveLength(2);
      expect(text).toMatch(/jetstream \{\n {2}store_dir: ".*entropy-\d"/);
    }
    expect(await readFile(auth.creds(OPERATOR_USER), 'utf8')).toContain(`ENTROPY_NATS_URL=${urls}`);
  });

  it('runs a plan with one server killed in the middle: the plan completes, the queue and the journal are kept on the two others', async () => {
    controller = startControllerProcess(
      urls,
      'entropy',
      '--creds',
      auth.creds(CONTROLLER_USER),
      '--replicas',
      '3',
      '--queue-store',
      'kv',
      '--lease',
      '15000',
    );
    for (const node of NODES) {
      const held = INSTANCE.vms
        .filter((v) => v.host === node)
        .map((v) => ({ id: v.id, vjob: v.vjob, state: v.state, demand: { cpu: v.cpu, mem: v.mem } }));
      const vmsFile = join(dir, `${node}.vms.json`);
      await writeFile(vmsFile, JSON.stringify(held));
      agents.push(
        spawnAgent([
          '--node',
          node,
          '--nats',
          urls,
          '--creds',
          auth.creds(agentUser(node)),
          '--driver',
          'sim',
          '--sim-vms',
          vmsFile,
          '--state-dir',
          join(dir, `state-${node}`),
          '--status-interval',
          '500',
        ]),
      );
    }
    const operator = ['--nats', urls, '--creds', auth.creds(OPERATOR_USER)];
    await waitFor(
      'the controller to see the four nodes',
      async () => {
        const r = await entropy('status', '--json', ...operator);
        return (
          r.status === 0 &&
          (JSON.parse(r.stdout) as { nodes: { liveness: string }[] }).nodes.filter((n) => n.liveness === 'online')
            .length === 4
        );
      },
      120_000,
    );

    // The buckets and the stream are on three servers (the servers' monitoring says so).
    const jsz = (await (
      await fetch(`http://127.0.0.1:${servers[0]!.monitorPort}/jsz?accounts=true&streams=true&config=true`)
    ).json()) as {
      account_details?: { stream_detail?: { name: string; config?: { num_replicas?: number } }[] }[];
    };
    const replicas = Object.fromEntries(
      (jsz.account_details ?? []).flatMap((a) => a.stream_detail ?? []).map((d) => [d.name, d.config?.num_replicas]),
    );
    expect(replicas).toMatchObject({ KV_entropy_queue: 3, KV_entropy_leader: 3, entropy_journal: 3 });

    const instanceFile = join(dir, 'instance.json');
    await writeFile(instanceFile, JSON.stringify(INSTANCE));
    apply = spawn(process.execPath, [ENTROPY, 'apply', instanceFile, ...operator], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    apply.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    apply.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    const ended = new Promise<number | null>((resolve) => apply!.once('exit', resolve));
    await waitFor('the plan to start', () => /^plan \S+$/m.test(out) && /step 0|\d+\/\d+/.test(out + err), 60_000);

    // The server the controller is connected to goes, as a crash.
    const victim = await waitFor('the server holding the controller', async () => {
      for (const s of servers) {
        const connz = (await (await fetch(`http://127.0.0.1:${s.monitorPort}/connz`)).json()) as {
          connections?: { name?: string }[];
        };
        if (connz.connections?.some((c) => c.name === 'entropy-controller')) return s;
      }
      return undefined;
    });
    await victim.server.kill();

    expect(await ended, `entropy apply:\n${out}\n${err}`).toBe(0);
    expect(out).toMatch(/plan \S+ completed: \d+ actions/);
    expect(controller.child.exitCode).toBeNull();
    // It went on through another server, in the middle of the plan.
    expect(controller.log()).toMatch(/reconnected to NATS; pending actions sent again/);

    // The queue as the controller keeps it, read through a surviving server.
    const queue = await waitFor('the queue', async () => {
      const r = await entropy('queue', '--json', ...operator);
      return r.status === 0 ? (JSON.parse(r.stdout) as { vjobs: { id: string; state: string }[] }) : undefined;
    });
    expect(queue.vjobs.map((v) => [v.id, v.state]).sort()).toEqual([
      ['j1', 'sleeping'],
      ['j2', 'running'],
    ]);
    const status = JSON.parse((await entropy('status', '--json', ...operator)).stdout) as {
      vms: { id: string; state: string; host?: string }[];
    };
    expect(status.vms.map((v) => [v.id, v.state]).sort()).toEqual([
      ['j1-a', 'sleeping'],
      ['j1-b', 'sleeping'],
      ['j2-a', 'running'],
      ['j2-b', 'running'],
    ]);
    // The operator reads the plan's journal from the two servers left.
    const planId = /^plan (\S+)$/m.exec(out)![1]!;
    const gantt = await entropy('gantt', '--plan', planId, '--out', join(dir, 'plan.svg'), ...operator);
    expect(gantt.status, gantt.stderr).toBe(0);
  });
});
