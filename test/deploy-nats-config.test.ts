import { spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, type NatsConnection } from '../packages/agent/src/index.ts';
import { decode, subjects } from '@entropy/protocol';
import { startLeaderLease } from '../packages/controller/src/controller/leader-lease.ts';
import { createLogger } from '../packages/controller/src/controller/logger.ts';
import { natsConfigCommand } from '../packages/controller/src/deploy/nats-config-command.ts';
import { parseCredentialsFile } from '../packages/controller/src/deploy/nats-config.ts';
import {
  agentUser,
  CONTROLLER_USER,
  OBSERVER_USER,
  OPERATOR_USER,
} from '../packages/controller/src/deploy/nats-roles.ts';
import { StreamJournal } from '../packages/controller/src/journal/stream-journal.ts';
import { KvQueueStore } from '../packages/controller/src/queue/index.ts';
import { type AgentProcess, spawnAgent } from './helpers/agent-process.ts';
import { type ControllerProcess, entropy, startControllerProcess, stopProcess } from './helpers/entropy-process.ts';
import { type SecuredNats, startSecuredNats } from './helpers/secured-nats.ts';
import { waitFor } from './helpers/wait-for.ts';

const s = subjects();
const USERS = [CONTROLLER_USER, OPERATOR_USER, OBSERVER_USER, 'agent-n1', 'agent-n2'];

async function creds(dir: string, user: string) {
  return parseCredentialsFile(await readFile(join(dir, 'creds', `${user}.env`), 'utf8'));
}

describe('entropy deploy nats-config: the files', () => {
  let dir: string;
  let config: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'entropy-deploy-nats-'));
    config = join(dir, 'nats-server.conf');
    const r = await natsConfigCommand({ nodes: ['n1', 'n2'], out: config, storeDir: join(dir, 'js') });
    expect(r.exitCode).toBe(0);
  });

  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('writes the config and one credentials file per user (controller, operator, observer, each agent), all mode 0600; nats-server -t accepts the config', async () => {
    for (const f of ['nats-server.conf', ...USERS.map((u) => `creds/${u}.env`)]) {
      expect(((await stat(join(dir, f))).mode & 0o777).toString(8), f).toBe('600');
    }
    const check = spawnSync('nats-server', ['-c', config, '-t'], { encoding: 'utf8' });
    expect(check.status, check.stderr + check.stdout).toBe(0);
    expect(check.stderr + check.stdout).toMatch(/valid/);
  });

  it('stores every password as a bcrypt hash: no password of a credentials file is in the config', async () => {
    const text = await readFile(config, 'utf8');
    for (const u of USERS) {
      const c = await creds(dir, u);
      expect(c.user).toBe(u);
      expect(c.password!.length).toBeGreaterThan(20);
      expect(text).not.toContain(c.password);
      expect(text).toMatch(new RegExp(`user: "${u}"\\n\\s*password: "\\$2[ab]\\$10\\$`));
    }
  });

  it('keeps existing passwords when run again, and changes them with --rotate', async () => {
    const before = await creds(dir, 'agent-n1');
    await natsConfigCommand({
      nodes: ['n1', 'n2', 'n3'],
      out: join(dir, 'again', 'nats-server.conf'),
      credsDir: join(dir, 'creds'),
    });
    expect((await creds(dir, 'agent-n1')).password).toBe(before.password);
    await natsConfigCommand({
      nodes: ['n1', 'n2'],
      out: join(dir, 'again', 'nats-server.conf'),
      credsDir: join(dir, 'creds'),
      rotate: true,
    });
    expect((await creds(dir, 'agent-n1')).password).not.toBe(before.password);
  });

  it('rejects a node id that is not one subject token, naming it', async () => {
    await expect(
      natsConfigCommand({ nodes: ['n1', 'bad.node'], out: join(dir, 'bad', 'x.conf') }),
    ).rejects.toMatchObject({
      code: 'ENTROPY_IO',
      message: expect.stringContaining('"bad.node"'),
    });
  });
});

describe('entropy deploy nats-config on a real nats-server', () => {
  let nats: SecuredNats;
  let controller: ControllerProcess | undefined;
  const agents: AgentProcess[] = [];

  beforeAll(async () => {
    nats = await startSecuredNats({ nodes: ['n1', 'n2'] });
  });

  afterAll(async () => {
    await stopProcess(controller);
    for (const a of agents) if (a.child.exitCode === null) a.child.kill('SIGTERM');
    await Promise.all(agents.map((a) => a.exited));
    await nats?.stop();
  });

  it("the controller's credentials open the vjob queue, the leader lease and the plan journal in JetStream", async () => {
    const nc = await nats.connectAs(CONTROLLER_USER);
    const store = await KvQueueStore.open(nc, 'entropy_queue');
    expect(await store.list()).toEqual([]);
    const logger = createLogger('silent');
    const lease = await startLeaderLease(nc, { prefix: 'entropy', holder: 'test', logger });
    await waitFor('the lease', () => lease.isLeader());
    await lease.close();
    const journal = await StreamJournal.open(nc, { prefix: 'entropy', logger });
    expect(journal.stream).toBe('entropy_journal');
  });

  it('refuses a wrong password, a user of another cluster and no credentials at all', async () => {
    await expect(connect({ servers: nats.url, user: 'agent-n1', pass: 'wrong', reconnect: false })).rejects.toThrow(
      /authorization/i,
    );
    await expect(connect({ servers: nats.url, user: 'agent-n9', pass: 'x', reconnect: false })).rejects.toThrow(
      /authorization/i,
    );
    await expect(connect({ servers: nats.url, reconnect: false })).rejects.toThrow(/authorization/i);
  });

  it('entropy-agent connects with its credentials from the environment or from --creds and publishes its status', async () => {
    const ctl: NatsConnection = await nats.connectAs(CONTROLLER_USER);
    const seen = new Set<string>();
    ctl.subscribe(s.allNodeStatus(), {
      callback: (_e, m) => {
        const d = decode('status', m.data);
        if (d.ok) seen.add(d.msg.node);
      },
    });
    await ctl.flush();
    const n1 = await creds(join(nats.dir), 'agent-n1');
    const common = (node: string) => [
      '--node',
      node,
      '--nats',
      nats.url,
      '--driver',
      'sim',
      '--state-dir',
      join(nats.dir, `state-${node}`),
      '--status-interval',
      '200',
    ];
    agents.push(spawnAgent(common('n1'), { ENTROPY_NATS_USER: n1.user!, ENTROPY_NATS_PASSWORD: n1.password! }));
    agents.push(spawnAgent([...common('n2'), '--creds', nats.creds(agentUser('n2'))]));
    await waitFor('a status of both agents', () => seen.has('n1') && seen.has('n2'), 60_000);
    for (const a of agents) expect(JSON.stringify(a.logs)).not.toMatch(/violation/i);
  });

  it("an agent given another node's credentials stops at once, naming them", async () => {
    const a = spawnAgent([
      '--node',
      'n1',
      '--nats',
      nats.url,
      '--driver',
      'sim',
      '--state-dir',
      join(nats.dir, 'state-wrong'),
      '--creds',
      nats.creds(agentUser('n2')),
    ]);
    expect(await a.exited).toBe(1);
  });

  it('entropy controller and entropy status run with their own --creds; status without credentials is one line, exit 1', async () => {
    controller = startControllerProcess(nats.url, 'entropy', '--creds', nats.creds(CONTROLLER_USER));
    const status = await waitFor('a status reply with both nodes', async () => {
      const r = await entropy('status', '--json', '--nats', nats.url, '--creds', nats.creds(OPERATOR_USER));
      if (r.status !== 0) return undefined;
      const st = JSON.parse(r.stdout) as { nodes: { id: string; liveness: string }[] };
      return st.nodes.filter((n) => n.liveness === 'online').length === 2 ? st : undefined;
    });
    expect(status.nodes.map((n) => n.id)).toEqual(['n1', 'n2']);
    // The observer may look too; through the environment as well.
    const observed = await entropy('queue', '--nats', nats.url, '--creds', nats.creds(OBSERVER_USER));
    expect(observed.status, observed.stderr).toBe(0);
    const refused = await entropy('status', '--nats', nats.url);
    expect(refused.status).toBe(1);
    expect(refused.stderr.trim().split('\n')).toHaveLength(1);
    expect(refused.stderr).toMatch(/^error: cannot connect to NATS at .*: .*authorization/i);
    expect(controller.log()).not.toMatch(/violation/i);
  });
});

describe('entropy deploy nats-config --nkeys', () => {
  let nats: SecuredNats;
  afterAll(async () => {
    await nats?.stop();
  });

  it('writes public keys only; each credentials file holds its seed, and the user connects with it', async () => {
    nats = await startSecuredNats({ nodes: ['n1'], nkeys: true });
    const text = await readFile(nats.auth.configs[0]!, 'utf8');
    expect(text).not.toMatch(/password/);
    const c = parseCredentialsFile(await readFile(nats.creds('agent-n1'), 'utf8'));
    expect(c.nkeySeed).toMatch(/^SU[A-Z2-7]{56}$/);
    expect(text).not.toContain(c.nkeySeed);
    const nc = await nats.connectAs('agent-n1');
    nc.publish(s.nodeStatus('n1'), new Uint8Array([1]));
    await nc.flush();
    expect(nc.isClosed()).toBe(false);
  });
});
