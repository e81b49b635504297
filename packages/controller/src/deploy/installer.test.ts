import { describe, expect, it } from 'vitest';
import { parseHosts } from './hosts.ts';
import { agentEnvFile, checkNodeVersion, installHost } from './installer.ts';
import type { ExecResult, RemoteSession } from './ssh-session.ts';

describe('parseHosts', () => {
  it('reads NODE=[USER@]HOST[:PORT] with root and 22 by default', () => {
    expect(parseHosts('n1=10.0.0.1,n2=admin@node2:2222,n3=[::1]:22')).toEqual([
      { node: 'n1', user: 'root', host: '10.0.0.1', port: 22 },
      { node: 'n2', user: 'admin', host: 'node2', port: 2222 },
      { node: 'n3', user: 'root', host: '::1', port: 22 },
    ]);
  });
  it('names the bad entry', () => {
    expect(() => parseHosts('n1=a,n1=b')).toThrow(/"n1=b".*listed twice/);
    expect(() => parseHosts('bad.id=a')).toThrow(/"bad.id=a".*node id/);
    expect(() => parseHosts('n1=a:99999')).toThrow(/port out of range/);
    expect(() => parseHosts('')).toThrow(/at least one/);
  });
});

describe('checkNodeVersion', () => {
  it('accepts 20 and later, says what is missing otherwise', () => {
    expect(checkNodeVersion('v20.20.2\n')).toEqual({ ok: true, version: 'v20.20.2' });
    expect(checkNodeVersion('v22.1.0')).toMatchObject({ ok: true });
    expect(checkNodeVersion('v18.19.0')).toEqual({
      ok: false,
      reason: 'Node.js v18.19.0 found, 20 or later is needed',
    });
    expect(checkNodeVersion('')).toMatchObject({ ok: false, reason: expect.stringContaining('not found on PATH') });
  });
});

describe('agentEnvFile', () => {
  it('writes what the unit reads, credentials included', () => {
    const text = agentEnvFile('n1', {
      natsUrl: 'nats://c:4222',
      driver: 'xl',
      capacity: 'cpu=8,mem=16384',
      user: 'agent-n1',
      password: 'pw',
      agentArgs: '--image-dir /shared',
    });
    expect(text).toContain(
      'ENTROPY_NATS_URL=nats://c:4222\nENTROPY_DRIVER=xl\nENTROPY_CAPACITY=cpu=8,mem=16384\nENTROPY_NATS_USER=agent-n1\nENTROPY_NATS_PASSWORD=pw\nENTROPY_AGENT_ARGS="--image-dir /shared"\n',
    );
  });
});

/** A host with systemd, recording the commands it was given. */
function fakeSession(
  node: string,
  commands: string[],
  files: Map<string, { content: string; mode: number }>,
): RemoteSession {
  return {
    hostKey: 'SHA256:fake',
    async exec(command): Promise<ExecResult> {
      commands.push(command);
      if (command.includes('command -v node'))
        return { code: 0, stdout: `node=${node}\nsystemd=yes\ncpus=8\nmemkb=16777216\n`, stderr: '' };
      if (command.startsWith('systemctl is-active')) return { code: 0, stdout: 'active\n', stderr: '' };
      return { code: 0, stdout: '', stderr: '' };
    },
    async putFile() {},
    async writeFile(path, content, mode) {
      files.set(path, { content, mode });
    },
    close() {},
  };
}

describe('installHost', () => {
  const base = {
    natsUrl: 'nats://c:4222',
    driver: 'xl' as const,
    bundleFile: '/tmp/b.tgz',
    unitText: '[Unit]\n',
    auth: {},
  };

  it('with systemd: writes the files, enables and restarts entropy-agent@NODE, capacity from the host', async () => {
    const commands: string[] = [];
    const files = new Map<string, { content: string; mode: number }>();
    const r = await installHost(
      { node: 'n1', user: 'root', host: 'h', port: 22 },
      { ...base, connect: async () => fakeSession('v20.1.0', commands, files) },
    );
    expect(r).toMatchObject({
      ok: true,
      outcome: 'started',
      detail: 'entropy-agent@n1 active',
      nodeVersion: 'v20.1.0',
    });
    expect(commands).toContain(
      'systemctl daemon-reload && systemctl enable entropy-agent@n1 && systemctl restart entropy-agent@n1',
    );
    expect(files.get('/etc/entropy/agent.env')).toMatchObject({
      mode: 0o600,
      content: expect.stringContaining('ENTROPY_CAPACITY=cpu=8,mem=16384\n'),
    });
    expect(files.get('/etc/systemd/system/entropy-agent@.service')).toEqual({ mode: 0o644, content: '[Unit]\n' });
  });

  it('stops at an old Node with a clear reason, touching nothing', async () => {
    const commands: string[] = [];
    const files = new Map();
    const r = await installHost(
      { node: 'n2', user: 'root', host: 'h', port: 22 },
      { ...base, connect: async () => fakeSession('v18.19.0', commands, files) },
    );
    expect(r).toMatchObject({
      ok: false,
      outcome: 'failed: node.js',
      detail: 'Node.js v18.19.0 found, 20 or later is needed',
    });
    expect(commands).toHaveLength(1);
    expect(files.size).toBe(0);
  });

  it('a missing credentials file fails the host before logging in', async () => {
    let connected = false;
    const r = await installHost(
      { node: 'n3', user: 'root', host: 'h', port: 22 },
      {
        ...base,
        credsDir: '/nonexistent',
        connect: async () => ((connected = true), fakeSession('v20.1.0', [], new Map())),
      },
    );
    expect(r).toMatchObject({
      ok: false,
      outcome: 'failed: credentials',
      detail: expect.stringContaining('/nonexistent/agent-n3.env'),
    });
    expect(connected).toBe(false);
  });
});
