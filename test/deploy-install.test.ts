import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { connect as tcpConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, type NatsConnection } from '../packages/agent/src/index.ts';
import { decode, subjects } from '../packages/protocol/src/index.ts';
import { buildAgentBundle, type AgentBundle } from '../packages/controller/src/deploy/agent-bundle.ts';
import { EXIT_HOST_FAILED, installCommand } from '../packages/controller/src/deploy/install-command.ts';
import { agentStartCommand } from '../packages/controller/src/deploy/installer.ts';
import { natsConfigCommand } from '../packages/controller/src/deploy/nats-config-command.ts';
import { parseCredentialsFile } from '../packages/controller/src/deploy/nats-config.ts';
import { freePort } from './helpers/free-port.ts';
import { type NatsServer, startNatsServer } from './helpers/nats-server.ts';

const SSHD = '/usr/sbin/sshd';
const sh = (cmd: string, args: string[]) => execFileSync(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] }).toString();

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = tcpConnect(port, '127.0.0.1');
    s.once('connect', () => (s.destroy(), resolve(true)));
    s.once('error', () => resolve(false));
  });
}

interface Sshd {
  readonly child: ChildProcess;
  readonly port: number;
  readonly exited: Promise<unknown>;
}

async function startSshd(dir: string, name: string, lines: string[]): Promise<Sshd> {
  const port = await freePort();
  const config = join(dir, `sshd_${name}.conf`);
  await writeFile(config, [`Port ${port}`, 'ListenAddress 127.0.0.1', ...lines, ''].join('\n'));
  const child = spawn(SSHD, ['-D', '-e', '-f', config], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (b: Buffer) => (stderr += b.toString()));
  const exited = new Promise((resolve) => child.once('exit', resolve));
  const deadline = Date.now() + 20_000;
  while (!(await accepts(port))) {
    if (child.exitCode !== null) throw new Error(`sshd ${name} exited: ${stderr}`);
    if (Date.now() > deadline) throw new Error(`sshd ${name} does not listen on ${port}: ${stderr}`);
    await delay(50);
  }
  return { child, port, exited };
}

describe('entropy deploy install against real sshd processes on loopback', () => {
  const user = `entd${randomBytes(4).toString('hex')}`;
  let uid: number | undefined;
  let home: string;
  let dir: string;
  const sshds: Sshd[] = [];
  let server: NatsServer | undefined;
  let agent: ChildProcess | undefined;
  let nc: NatsConnection | undefined;
  let bundle: AgentBundle | undefined;
  let hosts: Record<string, string>;

  beforeAll(async () => {
    if (!existsSync(SSHD)) throw new Error('sshd is missing: apt-get install -y openssh-server');
    dir = await mkdtemp(join(tmpdir(), 'entropy-deploy-ssh-'));
    sh('useradd', ['-m', '-s', '/bin/sh', user]);
    uid = Number(sh('id', ['-u', user]).trim());
    sh('usermod', ['-p', '*', user]);
    home = sh('sh', ['-c', `getent passwd ${user} | cut -d: -f6`]).trim();
    for (const k of ['host', 'good', 'other']) sh('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', `entropy-test-${k}`, '-f', join(dir, k)]);
    // the keys each sshd accepts, in files the user owns (sshd reads them as the user)
    sh('install', ['-d', '-m', '700', '-o', user, join(home, '.ssh')]);
    for (const [file, key] of [['keys_good', 'good'], ['keys_other', 'other']]) {
      sh('install', ['-m', '600', '-o', user, join(dir, `${key}.pub`), join(home, '.ssh', file)]);
    }
    sh('mkdir', ['-p', '/run/sshd']);
    const common = [`HostKey ${join(dir, 'host')}`, 'PidFile none', 'UsePAM no', 'PasswordAuthentication no', 'KbdInteractiveAuthentication no', 'PubkeyAuthentication yes', `AllowUsers ${user}`, 'Subsystem sftp internal-sftp', 'LogLevel ERROR'];
    const good = await startSshd(dir, 'good', [...common, `AuthorizedKeysFile ${home}/.ssh/keys_good`]);
    const other = await startSshd(dir, 'other', [...common, `AuthorizedKeysFile ${home}/.ssh/keys_other`]);
    const noNode = await startSshd(dir, 'nonode', [...common, `AuthorizedKeysFile ${home}/.ssh/keys_good`, 'SetEnv PATH=/nonexistent']);
    sshds.push(good, other, noNode);
    hosts = {
      n1: `n1=${user}@127.0.0.1:${good.port}`,
      n2: `n2=${user}@127.0.0.1:${other.port}`,
      n3: `n3=${user}@127.0.0.1:${noNode.port}`,
      n4: `n4=${user}@127.0.0.1:${await freePort()}`,
    };
    const r = await natsConfigCommand({ nodes: ['n1', 'n2', 'n3', 'n4'], out: join(dir, 'nats', 'nats-server.conf'), storeDir: join(dir, 'nats', 'js') });
    expect(r.exitCode).toBe(0);
    server = await startNatsServer({ config: join(dir, 'nats', 'nats-server.conf') });
  });

  afterAll(async () => {
    if (agent && agent.exitCode === null) {
      const exited = new Promise((resolve) => agent!.once('exit', resolve));
      agent.kill('SIGTERM');
      await Promise.race([exited, delay(20_000).then(() => agent!.kill('SIGKILL'))]);
      await exited;
    }
    await nc?.close().catch(() => undefined);
    await server?.stop();
    for (const s of sshds) {
      s.child.kill('SIGTERM');
      await s.exited;
    }
    await bundle?.dispose();
    if (uid !== undefined) {
      // exit code 0 even when it warns that the user has no mail spool
      sh('userdel', ['-r', user]);
    }
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('builds a self-contained agent bundle: the compiled agent and watcher, a package.json, no node_modules', async () => {
    bundle = await buildAgentBundle();
    const list = sh('tar', ['-tzf', bundle.file]).split('\n').filter((l) => l && !l.endsWith('/')).sort();
    expect(list).toEqual(['./bin/entropy-agent.js', './bin/entropy-watch.js', './package.json']);
    expect((await stat(bundle.file)).size).toBeGreaterThan(100_000);
  });

  it('a dry run logs in and checks Node on each host, copies nothing', async () => {
    const r = await installCommand({ hosts: hosts.n1, nats: server!.url, driver: 'xl', identity: join(dir, 'good'), root: join(home, 'dry'), dryRun: true }, {});
    expect(r.output).toMatch(/n1 .* checked .* v2\d\.\d+\.\d+ .* would install/);
    expect(r.exitCode).toBe(0);
    expect(existsSync(join(home, 'dry'))).toBe(false);
  });

  it('installs on the host that accepts the key; a wrong key, a host without Node and a closed port fail with clear messages', async () => {
    const root = join(home, 'stage');
    const r = await installCommand(
      {
        hosts: [hosts.n1, hosts.n2, hosts.n3, hosts.n4].join(','),
        nats: server!.url,
        driver: 'xl',
        identity: join(dir, 'good'),
        credsDir: join(dir, 'nats', 'creds'),
        root,
        bundle: bundle!.file,
      },
      {},
    );
    expect(r.exitCode, r.output).toBe(EXIT_HOST_FAILED);
    const line = (node: string) => r.output.split('\n').find((l) => l.startsWith(`${node} `)) ?? '';
    expect(line('n1')).toMatch(/ installed .*staged under/);
    expect(line('n2')).toMatch(/FAILED: CONNECT .*authentication failed for .*with key .*good/);
    expect(line('n3')).toMatch(/FAILED: NODE\.JS .*Node\.js not found on PATH/);
    expect(line('n4')).toMatch(/FAILED: CONNECT .*connection refused/);
    expect(r.output).toMatch(/3 of 4 hosts failed/);
    expect(r.output).toMatch(/n1 SHA256:/);

    // the files, where the unit and the env file expect them (under the staging root)
    expect(existsSync(join(root, 'opt/entropy/agent/bin/entropy-agent.js'))).toBe(true);
    expect(existsSync(join(root, 'opt/entropy/agent/node_modules'))).toBe(false);
    const envFile = join(root, 'etc/entropy/agent.env');
    expect(((await stat(envFile)).mode & 0o777).toString(8)).toBe('600');
    const envText = await readFile(envFile, 'utf8');
    expect(envText).toContain(`ENTROPY_NATS_URL=${server!.url}\n`);
    expect(envText).toContain('ENTROPY_DRIVER=xl\n');
    expect(envText).toMatch(/ENTROPY_CAPACITY=cpu=\d+,mem=\d+\n/);
    expect(envText).toContain('ENTROPY_NATS_USER=agent-n1\n');
    expect(await readFile(join(root, 'etc/systemd/system/entropy-agent@.service'), 'utf8')).toBe(
      await readFile(new URL('../deploy/systemd/entropy-agent@.service', import.meta.url), 'utf8'),
    );
    // nothing was left behind for the failed hosts or the bundle copy
    expect(sh('sh', ['-c', `ls -A ${root}/opt/entropy`]).trim()).toBe('agent');
  });

  it('the installed agent runs with the written environment and announces itself to NATS with its credentials', async () => {
    // The server keeps bcrypt hashes: the password is in the controller's credentials file.
    const { password: pass } = parseCredentialsFile(await readFile(join(dir, 'nats', 'creds', 'entropy-controller.env'), 'utf8'));
    nc = await connect({ servers: server!.url, user: 'entropy-controller', pass, reconnect: false });
    const hellos: string[] = [];
    nc.subscribe(subjects().nodeHello('n1'), {
      callback: (_e, m) => {
        const d = decode('hello', m.data);
        if (d.ok) hellos.push(`${d.msg.node}/${d.msg.driver}`);
      },
    });
    await nc.flush();
    // the printed command, run as the test user (with `exec` in front, the agent is this child); xl is absent here:
    // the agent announces itself all the same
    const gid = Number(sh('id', ['-g', user]).trim());
    agent = spawn('/bin/sh', ['-c', `exec ${agentStartCommand('n1', join(home, 'stage'))}`], { uid, gid, cwd: home, env: { HOME: home, PATH: process.env.PATH }, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    agent.stderr!.on('data', (b: Buffer) => (stderr += b.toString()));
    const deadline = Date.now() + 60_000;
    while (hellos.length === 0) {
      if (agent.exitCode !== null || Date.now() > deadline) throw new Error(`no hello from the installed agent: ${stderr}`);
      await delay(100);
    }
    expect(hellos[0]).toBe('n1/xl');
    expect(stderr).not.toMatch(/violation|authorization/i);
    // compiled JavaScript: no TypeScript loader ran, so none left its cache
    expect(existsSync(join(tmpdir(), `tsx-${uid}`))).toBe(false);
  });
});
