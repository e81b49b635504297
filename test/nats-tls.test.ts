import { execFileSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectNats } from '../packages/controller/src/controller/nats-connect.ts';
import { entropy } from './helpers/entropy-process.ts';
import { type NatsServer, startNatsServer } from './helpers/nats-server.ts';

/** A CA, a server certificate for 127.0.0.1 and a client certificate, made with openssl for the test (extensions in NAME.ext). */
function makeCertificates(dir: string): void {
  const ssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'ignore' });
  ssl(
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    'ca-key.pem',
    '-out',
    'ca.pem',
    '-days',
    '1',
    '-subj',
    '/CN=entropy-test-ca',
  );
  for (const name of ['server', 'client']) {
    ssl(
      'req',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      `${name}-key.pem`,
      '-out',
      `${name}.csr`,
      '-subj',
      `/CN=entropy-test-${name}`,
    );
    ssl(
      'x509',
      '-req',
      '-in',
      `${name}.csr`,
      '-CA',
      'ca.pem',
      '-CAkey',
      'ca-key.pem',
      '-CAcreateserial',
      '-out',
      `${name}.pem`,
      '-days',
      '1',
      '-extfile',
      `${name}.ext`,
    );
  }
}

describe('NATS over TLS: --tls-ca, --tls-cert, --tls-key', () => {
  let dir = '';
  let server: NatsServer | undefined;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'entropy-nats-tls-'));
    await writeFile(join(dir, 'server.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
    await writeFile(join(dir, 'client.ext'), 'extendedKeyUsage=clientAuth\n');
    makeCertificates(dir);
    // The server requires TLS and a client certificate signed by the CA.
    const config = join(dir, 'tls.conf');
    await writeFile(
      config,
      `tls {\n  cert_file: "${dir}/server.pem"\n  key_file: "${dir}/server-key.pem"\n  ca_file: "${dir}/ca.pem"\n  verify: true\n}\n`,
    );
    server = await startNatsServer({ config });
  }, 60_000);

  afterAll(async () => {
    await server?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('connects with the CA and a client certificate, from the options or the environment', async () => {
    const nc = await connectNats(
      {
        nats: server!.url,
        tlsCa: join(dir, 'ca.pem'),
        tlsCert: join(dir, 'client.pem'),
        tlsKey: join(dir, 'client-key.pem'),
      },
      'tls-test',
    );
    expect(nc.info?.tls_required).toBe(true);
    await nc.close();
    const saved = { ...process.env };
    Object.assign(process.env, {
      ENTROPY_NATS_TLS_CA: join(dir, 'ca.pem'),
      ENTROPY_NATS_TLS_CERT: join(dir, 'client.pem'),
      ENTROPY_NATS_TLS_KEY: join(dir, 'client-key.pem'),
    });
    try {
      const fromEnv = await connectNats(server!.url, 'tls-env-test');
      expect(fromEnv.info?.tls_required).toBe(true);
      await fromEnv.close();
    } finally {
      for (const k of ['ENTROPY_NATS_TLS_CA', 'ENTROPY_NATS_TLS_CERT', 'ENTROPY_NATS_TLS_KEY'])
        if (saved[k] === undefined) delete process.env[k];
    }
  });

  it('fails in one line without the client certificate, and without the CA', async () => {
    for (const args of [
      ['--tls-ca', join(dir, 'ca.pem')],
      ['--tls-cert', join(dir, 'client.pem'), '--tls-key', join(dir, 'client-key.pem')],
    ]) {
      const r = await entropy('status', '--nats', server!.url, '--timeout', '2000', ...args);
      expect(r.status).toBe(1);
      expect(r.stderr.trim().split('\n'), r.stderr).toHaveLength(1);
      expect(r.stderr).toMatch(/^error: cannot connect to NATS at /);
    }
  });
});
