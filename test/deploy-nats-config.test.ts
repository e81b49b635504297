import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type NatsConnection } from '../packages/agent/src/index.ts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decode, subjects } from '@entropy/protocol';
import { natsConfigCommand } from '../packages/controller/src/deploy/nats-config-command.ts';
import { parseCredentialsFile } from '../packages/controller/src/deploy/nats-config.ts';
import { KvQueueStore } from '../packages/controller/src/queue/index.ts';
import { type NatsServer, startNatsServer } from './helpers/nats-server.ts';
import { waitFor } from './helpers/wait-for.ts';

const AGENT_BIN = new URL('../packages/agent/bin/entropy-agent.js', import.meta.url).pathname;
const s = subjects();
const enc = new TextEncoder();

async function creds(dir: string, user: string) {
  return parseCredentialsFile(await readFile(join(dir, 'creds', `${user}.env`), 'utf8'));
}

describe('entropy deploy nats-config on a real nats-server', () => {
  let dir: string;
  let config: string;
  let server: NatsServer | undefined;
  const conns: NatsConnection[] = [];
  let agent: ChildProcess | undefined;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'entropy-deploy-nats-'));
    config = join(dir, 'nats-server.conf');
    const r = await natsConfigCommand({ nodes: ['n1', 'n2'], out: config, storeDir: join(dir, 'js') });
    expect(r.exitCode).toBe(0);
    server = await startNatsServer({ config });
  });

  afterAll(async () => {
    if (agent && agent.exitCode === null) {
      const exited = new Promise((resolve) => agent!.once('exit', resolve));
      agent.kill('SIGTERM');
      await exited;
    }
    await Promise.all(conns.map((nc) => nc.close().catch(() => undefined)));
    await server?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('writes the config and one credentials file per user, all mode 0600, and nats-server -t accepts the config', async () => {
    for (const f of ['nats-server.conf', 'creds/entropy-controller.env', 'creds/agent-n1.env', 'creds/agent-n2.env']) {
      expect(((await stat(join(dir, f))).mode & 0o777).toString(8), f).toBe('600');
    }
    const check = spawnSync('nats-server', ['-c', config, '-t'], { encoding: 'utf8' });
    expect(check.status, check.stderr + check.stdout).toBe(0);
    expect(check.stderr + check.stdout).toMatch(/valid/);
  });

  it('keeps existing passwords when run again, and changes them with --rotate', async () => {
    const before = await creds(dir, 'agent-n1');
    await natsConfigCommand({ nodes: ['n1', 'n2', 'n3'], out: join(dir, 'again', 'nats-server.conf'), credsDir: join(dir, 'creds') });
    expect((await creds(dir, 'agent-n1')).password).toBe(before.password);
    await natsConfigCommand({ nodes: ['n1', 'n2'], out: join(dir, 'again', 'nats-server.conf'), credsDir: join(dir, 'creds'), rotate: true });
    expect((await creds(dir, 'agent-n1')).password).not.toBe(before.password);
  });

  it('rejects a node id that is not one subject token, naming it', async () => {
    await expect(natsConfigCommand({ nodes: ['n1', 'bad.node'], out: join(dir, 'bad', 'x.conf') })).rejects.toMatchObject({
      code: 'ENTROPY_IO',
      message: expect.stringContaining('"bad.node"'),
    });
  });

  it("agent n1 cannot publish on n2's status subject nor subscribe to it; the controller user can", async () => {
    // `--rotate` above rewrote creds/: take the passwords the server was started with from its config
    const text = await readFile(config, 'utf8');
    const pw = (user: string) => new RegExp(`user: "${user}"\\n\\s*password: "([^"]+)"`).exec(text)![1];
    const as = async (user: string) => {
      const nc = await connect({ servers: server!.url, user, pass: pw(user), reconnect: false });
      conns.push(nc);
      return nc;
    };
    const ctl = await as('entropy-controller');
    const n1 = await as('agent-n1');
    const n2 = await as('agent-n2');

    const seen: string[] = [];
    const sub = ctl.subscribe(s.allNodeStatus(), { callback: (_e, m) => void seen.push(`${m.subject}:${new TextDecoder().decode(m.data)}`) });
    await ctl.flush();

    const errors: string[] = [];
    void (async () => {
      for await (const st of n1.status()) if (st.type === 'error') errors.push(String(st.error));
    })();

    n1.publish(s.nodeStatus('n1'), enc.encode('own'));
    n1.publish(s.nodeStatus('n2'), enc.encode('forged'));
    await n1.flush();
    await waitFor('the permission error on n1', () => errors.length > 0);
    expect(errors.join()).toMatch(/permissions violation for publish.*entropy\.node\.n2\.status/i);
    await waitFor("n1's own status", () => seen.includes('entropy.node.n1.status:own'));

    // a forbidden subscription fails
    const forbidden = n1.subscribe(s.nodeStatus('n2'));
    const subErr = await (async () => {
      try {
        for await (const _m of forbidden) void _m;
        return undefined;
      } catch (err) {
        return err as Error;
      }
    })();
    expect(String(subErr)).toMatch(/permissions violation for subscription/i);

    // n2's own publication and the controller's publications on any node's subjects go through
    n2.publish(s.nodeStatus('n2'), enc.encode('real'));
    ctl.publish(s.nodeStatus('n2'), enc.encode('from-controller'));
    await waitFor('n2 and the controller publications', () => seen.includes('entropy.node.n2.status:real') && seen.includes('entropy.node.n2.status:from-controller'));
    expect(seen).not.toContain('entropy.node.n2.status:forged');

    // request/reply through inboxes: the controller asks n2's action subject, n2 answers
    n2.subscribe(s.nodeAction('n2'), { callback: (_e, m) => void m.respond(enc.encode('done')) });
    await n2.flush();
    const reply = await ctl.request(s.nodeAction('n2'), enc.encode('go'), { timeout: 5000 });
    expect(new TextDecoder().decode(reply.data)).toBe('done');
    sub.unsubscribe();
  });

  it('the controller user can open the JetStream KV queue store', async () => {
    const text = await readFile(config, 'utf8');
    const pass = /user: "entropy-controller"\n\s*password: "([^"]+)"/.exec(text)![1];
    const nc = await connect({ servers: server!.url, user: 'entropy-controller', pass, reconnect: false });
    conns.push(nc);
    const store = await KvQueueStore.open(nc, 'entropy_queue');
    expect(await store.list()).toEqual([]);
    expect(await store.get('j1')).toBeUndefined();
  });

  it('a wrong password is refused', async () => {
    await expect(connect({ servers: server!.url, user: 'agent-n1', pass: 'wrong', reconnect: false })).rejects.toThrow(/authorization/i);
  });

  it('entropy-agent connects with the credentials from its environment and publishes its status', async () => {
    const text = await readFile(config, 'utf8');
    const pass = /user: "agent-n1"\n\s*password: "([^"]+)"/.exec(text)![1];
    const ctl = conns[0];
    const statuses: string[] = [];
    ctl.subscribe(s.nodeStatus('n1'), {
      callback: (_e, m) => {
        const d = decode('status', m.data);
        if (d.ok) statuses.push(d.msg.node);
      },
    });
    await ctl.flush();
    agent = spawn(process.execPath, [AGENT_BIN, '--node', 'n1', '--nats', server!.url, '--driver', 'sim', '--state-dir', join(dir, 'agent-state'), '--status-interval', '200'], {
      stdio: ['ignore', 'ignore', 'pipe'],
      env: { ...process.env, ENTROPY_NATS_USER: 'agent-n1', ENTROPY_NATS_PASSWORD: pass },
    });
    let stderr = '';
    agent.stderr!.on('data', (b: Buffer) => (stderr += b.toString()));
    await waitFor(`a status of the agent (stderr: ${stderr})`, () => statuses.length > 0, 60_000);
    expect(stderr).not.toMatch(/violation/i);
  });
});
