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
import { decode, subjects } from '@entropy/protocol';
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
  /** The sshds' keys as ssh-keyscan reads them, hashed by ssh-keygen -H. */
  let knownHosts: string;
  let common: string[];

  beforeAll(async () => {
    if (!existsSync(SSHD)) throw new Error('sshd is missing: apt-get install -y openssh-server');
    dir = await mkdtemp(join(tmpdir(), 'entropy-deploy-ssh-'));
    sh('useradd', ['-m', '-s', '/bin/sh', user]);
    uid = Number(sh('id', ['-u', user]).trim());
    sh('usermod', ['-p', '*', user]);
    home = sh('sh', ['-c', `getent passwd ${user} | cut -d: -f6`]).trim();
    for (const k of ['host', 'host2', 'good', 'other'])
      sh('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', `entropy-test-${k}`, '-f', join(dir, k)]);
    sh('ssh-keygen', ['-q', '-t', 'ecdsa', '-b', '256', '-N', '', '-f', join(dir, 'host_ecdsa')]);
    sh('ssh-keygen', ['-q', '-t', 'rsa', '-b', '2048', '-N', '', '-f', join(dir, 'host_rsa')]);
    // the keys each sshd accepts, in files the user owns (sshd reads them as the user)
    sh('install', ['-d', '-m', '700', '-o', user, join(home, '.ssh')]);
    for (const [file, key] of [
      ['keys_good', 'good'],
      ['keys_other', 'other'],
    ]) {
      sh('install', ['-m', '600', '-o', user, join(dir, `${key}.pub`), join(home, '.ssh', file)]);
    }
    sh('mkdir', ['-p', '/run/sshd']);
    common = [
      'PidFile none',
      'UsePAM no',
      'PasswordAuthentication no',
      'KbdInteractiveAuthentication no',
      'PubkeyAuthentication yes',
      `AllowUsers ${user}`,
      'Subsystem sftp internal-sftp',
      'LogLevel ERROR',
    ];
    const hostKey = `HostKey ${join(dir, 'host')}`;
    const good = await startSshd(dir, 'good', [...common, hostKey, `AuthorizedKeysFile ${home}/.ssh/keys_good`]);
    const other = await startSshd(dir, 'other', [...common, hostKey, `AuthorizedKeysFile ${home}/.ssh/keys_other`]);
    const noNode = await startSshd(dir, 'nonode', [
      ...common,
      hostKey,
      `AuthorizedKeysFile ${home}/.ssh/keys_good`,
      'SetEnv PATH=/nonexistent',
    ]);
    sshds.push(good, other, noNode);
    hosts = {
      n1: `n1=${user}@127.0.0.1:${good.port}`,
      n2: `n2=${user}@127.0.0.1:${other.port}`,
      n3: `n3=${user}@127.0.0.1:${noNode.port}`,
      n4: `n4=${user}@127.0.0.1:${await freePort()}`,
    };
    knownHosts = join(dir, 'known_hosts');
    await writeFile(
      knownHosts,
      [good, other, noNode]
        .map((d) => sh('ssh-keyscan', ['-p', String(d.port), '-t', 'ed25519', '127.0.0.1']))
        .join(''),
    );
    sh('ssh-keygen', ['-q', '-H', '-f', knownHosts]);
    const r = await natsConfigCommand({
      nodes: ['n1', 'n2', 'n3', 'n4'],
      out: join(dir, 'nats', 'nats-server.conf'),
      storeDir: join(dir, 'nats', 'js'),
    });
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
    const list = sh('tar', ['-tzf', bundle.file])
      .split('\n')
      .filter((l) => l && !l.endsWith('/'))
      .sort();
    expect(list).toEqual(['./bin/entropy-agent.js', './bin/entropy-watch.js', './package.json']);
    expect((await stat(bundle.file)).size).toBeGreaterThan(100_000);
  });

  it('a dry run logs in and checks Node on each host, copies nothing', async () => {
    const r = await installCommand(
      {
        hosts: hosts.n1,
        nats: server!.url,
        driver: 'xl',
        identity: join(dir, 'good'),
        knownHosts,
        root: join(home, 'dry'),
        dryRun: true,
      },
      {},
    );
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
        knownHosts,
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
    // every key was known (hashed lines): none added
    expect(r.output).not.toMatch(/host keys added/);

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
    const { password: pass } = parseCredentialsFile(
      await readFile(join(dir, 'nats', 'creds', 'entropy-controller.env'), 'utf8'),
    );
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
    agent = spawn('/bin/sh', ['-c', `exec ${agentStartCommand('n1', join(home, 'stage'))}`], {
      uid,
      gid,
      cwd: home,
      env: { HOME: home, PATH: process.env.PATH },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    agent.stderr!.on('data', (b: Buffer) => (stderr += b.toString()));
    const deadline = Date.now() + 60_000;
    while (hellos.length === 0) {
      if (agent.exitCode !== null || Date.now() > deadline)
        throw new Error(`no hello from the installed agent: ${stderr}`);
      await delay(100);
    }
    expect(hellos[0]).toBe('n1/xl');
    expect(stderr).not.toMatch(/violation|authorization/i);
    // compiled JavaScript: no TypeScript loader ran, so none left its cache
    expect(existsSync(join(tmpdir(), `tsx-${uid}`))).toBe(false);
  });

  describe('host keys, checked against a known_hosts file before anything is sent', () => {
    const fingerprint = (pub: string) => sh('ssh-keygen', ['-lf', join(dir, pub)]).split(' ')[1]!;
    const portOf = (host: string) => Number(/:(\d+)$/.exec(host)![1]);
    const lineOf = (output: string, node: string) => output.split('\n').find((l) => l.startsWith(`${node} `)) ?? '';

    it('an unknown key is refused with its fingerprint and the way to accept it; --accept-new adds it, then it is known', async () => {
      const file = join(dir, 'kh-new', 'known_hosts');
      const root = join(home, 'stage-new');
      const opts = {
        hosts: hosts.n1,
        nats: server!.url,
        driver: 'xl',
        identity: join(dir, 'good'),
        knownHosts: file,
        root,
        bundle: bundle!.file,
      };
      const refused = await installCommand(opts, {});
      expect(refused.exitCode).toBe(EXIT_HOST_FAILED);
      const name = `[127.0.0.1]:${portOf(hosts.n1)}`;
      expect(lineOf(refused.output, 'n1')).toContain(`FAILED: CONNECT`);
      expect(lineOf(refused.output, 'n1')).toContain(
        `unknown host key for ${name}: ED25519 key ${fingerprint('host.pub')}, not in ${file}`,
      );
      expect(lineOf(refused.output, 'n1')).toContain('--accept-new');
      expect(existsSync(file)).toBe(false);
      expect(existsSync(root)).toBe(false);

      // a dry run with --accept-new trusts it for its session and writes nothing
      const dry = await installCommand({ ...opts, acceptNew: true, dryRun: true }, {});
      expect(dry.exitCode, dry.output).toBe(0);
      expect(dry.output).toContain(`would add to ${file}`);
      expect(existsSync(file)).toBe(false);

      const added = await installCommand({ ...opts, acceptNew: true }, {});
      expect(added.exitCode, added.output).toBe(0);
      expect(added.output).toContain(`host keys added to ${file}`);
      expect(added.output).toContain(`n1 ${fingerprint('host.pub')}`);
      // OpenSSH finds the line that was written
      expect(sh('ssh-keygen', ['-F', name, '-f', file])).toContain(`${name} ssh-ed25519 `);
      const again = await installCommand(opts, {});
      expect(again.exitCode, again.output).toBe(0);
      expect(again.output).not.toMatch(/host keys added/);
    });

    it('a changed key is refused, with or without --accept-new, and the file is left as it was', async () => {
      const changed = await startSshd(dir, 'changed', [
        ...common,
        `HostKey ${join(dir, 'host2')}`,
        `AuthorizedKeysFile ${home}/.ssh/keys_good`,
      ]);
      sshds.push(changed);
      const name = `[127.0.0.1]:${changed.port}`;
      const file = join(dir, 'kh-changed');
      // the file names this address with the key the other sshds present: another machine answers there now
      const before = `${name} ${(await readFile(join(dir, 'host.pub'), 'utf8')).split(' ').slice(0, 2).join(' ')}\n`;
      await writeFile(file, before);
      for (const acceptNew of [false, true]) {
        const root = join(home, 'stage-changed');
        const r = await installCommand(
          {
            hosts: `n1=${user}@127.0.0.1:${changed.port}`,
            nats: server!.url,
            driver: 'xl',
            identity: join(dir, 'good'),
            knownHosts: file,
            acceptNew,
            root,
            bundle: bundle!.file,
          },
          {},
        );
        expect(r.exitCode).toBe(EXIT_HOST_FAILED);
        expect(lineOf(r.output, 'n1')).toContain(
          `HOST KEY CHANGED for ${name}: it presents ED25519 key ${fingerprint('host2.pub')}, ${file} holds line 1 ED25519 ${fingerprint('host.pub')}; refused, even with --accept-new`,
        );
        expect(existsSync(root)).toBe(false);
        expect(await readFile(file, 'utf8')).toBe(before);
      }
    });

    it('ecdsa and rsa host keys are checked too; a host with several keys presents the known type', async () => {
      const ecdsa = await startSshd(dir, 'ecdsa', [
        ...common,
        `HostKey ${join(dir, 'host_ecdsa')}`,
        `AuthorizedKeysFile ${home}/.ssh/keys_good`,
      ]);
      const several = await startSshd(dir, 'several', [
        ...common,
        `HostKey ${join(dir, 'host2')}`,
        `HostKey ${join(dir, 'host_rsa')}`,
        `AuthorizedKeysFile ${home}/.ssh/keys_good`,
      ]);
      sshds.push(ecdsa, several);
      const file = join(dir, 'kh-types');
      // ed25519 would be negotiated first; the file holds only the rsa key of the second host
      await writeFile(
        file,
        sh('ssh-keyscan', ['-p', String(ecdsa.port), '-t', 'ecdsa', '127.0.0.1']) +
          sh('ssh-keyscan', ['-p', String(several.port), '-t', 'rsa', '127.0.0.1']),
      );
      const both = `n1=${user}@127.0.0.1:${ecdsa.port},n2=${user}@127.0.0.1:${several.port}`;
      const r = await installCommand(
        {
          hosts: both,
          nats: server!.url,
          driver: 'xl',
          identity: join(dir, 'good'),
          knownHosts: file,
          root: join(home, 'dry-types'),
          dryRun: true,
        },
        {},
      );
      expect(r.exitCode, r.output).toBe(0);
      expect(lineOf(r.output, 'n1')).toMatch(/ checked /);
      expect(lineOf(r.output, 'n2')).toMatch(/ checked /);

      // a file that knows the second host's ed25519 key only, from another machine: its rsa key is not offered
      await writeFile(
        file,
        `[127.0.0.1]:${several.port} ${(await readFile(join(dir, 'host.pub'), 'utf8')).split(' ').slice(0, 2).join(' ')}\n`,
      );
      const wrong = await installCommand(
        {
          hosts: `n2=${user}@127.0.0.1:${several.port}`,
          nats: server!.url,
          driver: 'xl',
          identity: join(dir, 'good'),
          knownHosts: file,
          acceptNew: true,
          dryRun: true,
        },
        {},
      );
      expect(wrong.exitCode).toBe(EXIT_HOST_FAILED);
      expect(lineOf(wrong.output, 'n2')).toContain(
        `HOST KEY CHANGED for [127.0.0.1]:${several.port}: it presents ED25519 key ${fingerprint('host2.pub')}`,
      );
    });
  });
});
