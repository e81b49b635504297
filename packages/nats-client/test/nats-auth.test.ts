import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { nkeys } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_NATS_URL, natsClientSettings, parseCredentials, parseServers } from '../src/index.ts';

describe('NATS client settings', () => {
  let dir = '';
  const file = (name: string) => join(dir, name);
  const seed = new TextDecoder().decode(nkeys.createUser().getSeed());

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'entropy-nats-auth-'));
    await writeFile(
      file('op.env'),
      '# operator\nENTROPY_NATS_URL=nats://a:4222,nats://b:4222\nENTROPY_NATS_USER=entropy-operator\nENTROPY_NATS_PASSWORD="s3cret"\n',
    );
    await writeFile(file('agent.env'), `ENTROPY_NATS_USER=agent-n1\nENTROPY_NATS_NKEY_SEED=${seed}\n`);
    await writeFile(file('user.nk'), `-----BEGIN USER NKEY SEED-----\n${seed}\n------END USER NKEY SEED------\n`);
    await writeFile(file('bad.nk'), 'SUnotaseed\n');
    await chmod(file('op.env'), 0o600);
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('reads an environment file: comments, quotes and export skipped', () => {
    expect(parseCredentials("# x\nexport A_B=1\nC='two words'\n\nbad line\n")).toEqual({ A_B: '1', C: 'two words' });
  });

  it('splits and checks several server URLs', () => {
    expect(parseServers('nats://a:4222, tls://b:4223,c:4224')).toEqual(['nats://a:4222', 'tls://b:4223', 'c:4224']);
    expect(() => parseServers('')).toThrow(/--nats: give a server URL/);
    expect(() => parseServers('http://a:80')).toThrow(/"http:\/\/a:80" is not a NATS server URL/);
    expect(() => parseServers('nats://a:4222/path')).toThrow(/not a NATS server URL/);
  });

  it('connects to the default server without credentials, with the default inbox', async () => {
    expect(await natsClientSettings({}, {})).toEqual({ servers: [DEFAULT_NATS_URL], options: {} });
  });

  it("takes the credentials file's user, password and URL, and the user's own inbox prefix", async () => {
    const s = await natsClientSettings({ creds: file('op.env') }, {});
    expect(s).toEqual({
      servers: ['nats://a:4222', 'nats://b:4222'],
      user: 'entropy-operator',
      options: { user: 'entropy-operator', pass: 's3cret', inboxPrefix: '_INBOX.entropy-operator' },
    });
  });

  it('lets a flag win over the environment, and the environment over the credentials file', async () => {
    const env = {
      ENTROPY_NATS_CREDS: file('op.env'),
      ENTROPY_NATS_URL: 'nats://env:1',
      ENTROPY_NATS_PASSWORD: 'from-env',
    };
    const s = await natsClientSettings({ nats: 'nats://flag:2' }, env);
    expect(s.servers).toEqual(['nats://flag:2']);
    expect(s.options).toMatchObject({ user: 'entropy-operator', pass: 'from-env' });
    expect((await natsClientSettings({}, env)).servers).toEqual(['nats://env:1']);
  });

  it('authenticates with an nkey seed from the credentials file or a seed file, without a password', async () => {
    for (const flags of [{ creds: file('agent.env') }, { nkey: file('user.nk'), user: 'agent-n1' }]) {
      const s = await natsClientSettings(flags, {});
      expect(s.user).toBe('agent-n1');
      expect(s.options.inboxPrefix).toBe('_INBOX.agent-n1');
      expect(s.options.pass).toBeUndefined();
      expect(typeof s.options.authenticator).toBe('function');
    }
  });

  it('passes TLS files on, a client certificate only with its key', async () => {
    const s = await natsClientSettings({ tlsCa: '/ca.pem', tlsCert: '/c.pem', tlsKey: '/k.pem' }, {});
    expect(s.options.tls).toEqual({ caFile: '/ca.pem', certFile: '/c.pem', keyFile: '/k.pem' });
    expect((await natsClientSettings({}, { ENTROPY_NATS_TLS_CA: '/ca.pem' })).options.tls).toEqual({
      caFile: '/ca.pem',
    });
    await expect(natsClientSettings({ tlsCert: '/c.pem' }, {})).rejects.toMatchObject({
      code: 'ENTROPY_NATS_AUTH',
      message: expect.stringMatching(/^--tls-key: /),
    });
  });

  it('refuses what cannot authenticate, in one line naming the option', async () => {
    const refused = (flags: object, env: NodeJS.ProcessEnv, re: RegExp) =>
      expect(natsClientSettings(flags, env)).rejects.toMatchObject({
        code: 'ENTROPY_NATS_AUTH',
        message: expect.stringMatching(re),
      });
    await refused({ creds: file('missing.env') }, {}, /^--creds: cannot read .*missing\.env: ENOENT$/);
    await refused({ creds: dir }, {}, /^--creds: .* is not a regular file$/);
    await refused({ creds: '/dev/zero' }, {}, /^--creds: \/dev\/zero is not a regular file$/);
    await refused({}, { ENTROPY_NATS_CREDS: file('missing.env') }, /^\$ENTROPY_NATS_CREDS: cannot read/);
    await refused({ nkey: file('bad.nk') }, {}, /^--nkey: holds no nkey user seed/);
    await refused(
      { nkey: file('user.nk'), creds: file('op.env') },
      {},
      /^--nkey: give an nkey or a password, not both$/,
    );
    await refused({}, { ENTROPY_NATS_PASSWORD: 'x' }, /^ENTROPY_NATS_USER: a password and no user name/);
    await refused({}, { ENTROPY_NATS_USER: 'u' }, /^ENTROPY_NATS_PASSWORD: user u and no password or nkey/);
    await refused({ user: 'a.b', password: 'x' }, {}, /^ENTROPY_NATS_USER: "a.b" is not a user name/);
  });
});
