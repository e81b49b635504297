import { type ChildProcess, spawn } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { askController, connectNats, type NatsConnection } from '../packages/controller/src/controller/nats-connect.ts';
import { parseInstance } from '@entropy/engine';
import { encodeControl, type QueueReply, subjects } from '../packages/protocol/src/index.ts';
import { startSimCluster, type SimCluster } from './executor-cluster.ts';
import { controllerStatus } from './helpers/controller-status.ts';
import { ENTROPY, logLines } from './helpers/entropy-process.ts';
import { type NatsServer, startNatsServer } from './helpers/nats-server.ts';
import { waitFor } from './helpers/wait-for.ts';

/** The compiled `entropy ARGS` in `cwd`, as a user runs it there. */
function entropyIn(cwd: string, ...args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [ENTROPY, ...args], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve) => child.once('exit', (status) => resolve({ status, stdout, stderr })));
}

const RUN_ALL = "decide(view) { return Object.fromEntries(view.queue.map((j) => [j.id, 'running'])); }";

/** Directories that make a `.js` file CommonJS to Node, each with the README's policy in it. */
const PACKAGES: Readonly<Record<string, string | undefined>> = {
  'no-package-json': undefined,
  'package-json-without-type': JSON.stringify({ name: 'my-policies', private: true }),
  'type-commonjs': JSON.stringify({ name: 'my-policies', type: 'commonjs' }),
};

describe('policy modules load as the README says, in the compiled CLI', () => {
  let dir: string;
  const dirOf = (name: string) => join(dir, name);

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'entropy-policy-'));
    for (const [name, packageJson] of Object.entries(PACKAGES)) {
      await mkdir(dirOf(name));
      if (packageJson) await writeFile(join(dirOf(name), 'package.json'), packageJson);
      // the README's example: an ES module with export default, which imports a helper of its own
      await writeFile(join(dirOf(name), 'helper.js'), `export const NAME = 'mine';\n`);
      await writeFile(
        join(dirOf(name), 'my-policy.js'),
        `import { NAME } from './helper.js';\nexport default { name: NAME, ${RUN_ALL} };\n`,
      );
    }
    const d = dirOf('type-commonjs');
    await writeFile(
      join(d, 'cjs-policy.js'),
      `const path = require('node:path');\nmodule.exports = { name: 'cjs-' + path.basename('x'), ${RUN_ALL} };\n`,
    );
    await writeFile(
      join(d, 'throwing.js'),
      "export default { name: 'throwing', decide() { throw new Error('boom\\nsecond line'); } };\n",
    );
    await writeFile(
      join(d, 'bad-decision.js'),
      "export default { name: 'bad', decide() { return { nope: 'dancing' }; } };\n",
    );
    await writeFile(join(d, 'throws-on-load.js'), "throw new Error('cannot start');\nexport default {};\n");
    await writeFile(join(d, 'syntax-error.js'), 'export default { name: ;\n');
    await writeFile(join(d, 'no-policy.js'), 'export const x = 1;\n');
    // throws on its first call, returns an unknown state on its second, then runs everything
    await writeFile(
      join(d, 'flaky.js'),
      `let calls = 0;\nexport default { name: 'flaky', decide(view) { calls++; if (calls === 1) throw new Error('first turn'); if (calls === 2) return { [view.queue[0].id]: 'dancing' }; return Object.fromEntries(view.queue.map((j) => [j.id, 'running'])); } };\n`,
    );
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  describe('entropy experiment', () => {
    it.each(Object.keys(PACKAGES))('loads an ES module with export default (%s), without a warning', async (name) => {
      const r = await entropyIn(dirOf(name), 'experiment', 'tiny', '--json', '--policies', './my-policy.js');
      expect(r.stderr).toBe('');
      expect(r.status).toBe(0);
      expect(JSON.parse(r.stdout).mine.unfinished).toEqual([]);
    });

    it('still loads a CommonJS policy', async () => {
      const r = await entropyIn(
        dirOf('type-commonjs'),
        'experiment',
        'tiny',
        '--json',
        '--policies',
        './cjs-policy.js',
      );
      expect(r.stderr).toBe('');
      expect(Object.keys(JSON.parse(r.stdout))).toEqual(['cjs-x']);
    });

    it.each([
      ['throwing.js', /^error: policy \.\/throwing\.js failed at t=0s: policy 'throwing' threw: boom: no figures\n$/],
      [
        'bad-decision.js',
        /^error: policy \.\/bad-decision\.js failed at t=0s: policy 'bad' returned an invalid decision: vjob 'nope': unknown vjob: no figures\n$/,
      ],
      ['throws-on-load.js', /^error: policy module \S+throws-on-load\.js failed to load: cannot start\n$/],
      ['syntax-error.js', /^error: policy module \S+syntax-error\.js failed to load: Unexpected token ';'\n$/],
      [
        'no-policy.js',
        /^error: \S+no-policy\.js does not export a policy: expected a default export \{ name, decide\(view\) \} or a factory returning one\n$/,
      ],
      ['missing.js', /^error: policy module \S+missing\.js does not exist\n$/],
      ['.', /^error: policy module \S+ is not a regular file\n$/],
      ['/dev/zero', /^error: policy module \/dev\/zero is not a regular file\n$/],
    ])('a policy that fails (%s) is one line and exit 1, no figures', async (file, line) => {
      const r = await entropyIn(
        dirOf('type-commonjs'),
        'experiment',
        'tiny',
        '--policies',
        file.startsWith('/') ? file : `./${file}`,
      );
      expect(r.stderr).toMatch(line);
      expect(r.stdout).toBe('');
      expect(r.status).toBe(1);
    });
  });

  describe('entropy controller', () => {
    let server: NatsServer;
    let nc: NatsConnection;
    const agents: SimCluster[] = [];
    const controllers: ChildProcess[] = [];

    beforeAll(async () => {
      server = await startNatsServer();
      nc = await connectNats(server.url, 'test-policy-loading');
    });
    afterAll(async () => {
      for (const c of controllers) {
        if (c.exitCode !== null) continue;
        const exited = new Promise((resolve) => c.once('exit', resolve));
        c.kill('SIGTERM');
        await exited;
      }
      for (const a of agents) await a.stop();
      await nc?.close();
      await server?.stop();
    });

    /** A controller in `cwd` with `--policy POLICY`, one sim node, and a vjob of two VMs submitted. */
    async function controllerWith(cwd: string, policy: string, prefix: string) {
      const child = spawn(
        process.execPath,
        [
          ENTROPY,
          'controller',
          '--nats',
          server.url,
          '--prefix',
          prefix,
          '--status-period',
          '500',
          '--loop-interval',
          '500',
          '--policy',
          policy,
        ],
        { cwd, stdio: ['ignore', 'ignore', 'pipe'] },
      );
      controllers.push(child);
      let log = '';
      child.stderr!.on('data', (d: Buffer) => (log += d.toString()));
      await waitFor('the controller to start', () => log.includes('controller started'));
      agents.push(
        startSimCluster(parseInstance({ nodes: [{ id: 'p1', cpu: 4, mem: 4096 }], vms: [], vjobs: [] }), {
          url: server.url,
          prefix,
          statusIntervalMs: 500,
          speed: 50,
        }),
      );
      await waitFor(
        'the node online',
        async () => (await controllerStatus(nc, prefix).catch(() => undefined))?.nodes[0]?.liveness === 'online',
      );
      const vjob = join(cwd, `${prefix}-vjob.json`);
      await writeFile(
        vjob,
        JSON.stringify({
          id: 'j1',
          priority: 0,
          vms: [
            { id: 'j1-vm1', cpu: 1, mem: 512 },
            { id: 'j1-vm2', cpu: 1, mem: 512 },
          ],
        }),
      );
      const submitted = await entropyIn(cwd, 'submit', vjob, '--nats', server.url, '--prefix', prefix);
      expect(submitted.status, submitted.stderr).toBe(0);
      const queue = async () => {
        const r: QueueReply = await askController(
          nc,
          { subjects: subjects(prefix), url: server.url },
          'queue',
          encodeControl('queueRequest', {}),
          'queueReply',
          10_000,
        );
        return r.ok ? r : undefined;
      };
      return { log: () => log, queue };
    }

    it('runs the README policy from a directory whose package.json does not say "type": "module"', async () => {
      const c = await controllerWith(dirOf('package-json-without-type'), './my-policy.js', 'pl1');
      await waitFor('j1 running', async () => (await c.queue())?.vjobs[0]?.state === 'running');
      expect((await c.queue())!.policy).toBe('mine');
      expect(c.log()).not.toMatch(/Warning|MODULE_TYPELESS/);
    });

    it('logs one line per failed turn (a throw, an invalid decision) and keeps the loop running', async () => {
      const c = await controllerWith(dirOf('type-commonjs'), './flaky.js', 'pl2');
      await waitFor('j1 running', async () => (await c.queue())?.vjobs[0]?.state === 'running');
      const failed = logLines(c.log()).filter((l) => l.msg === 'policy failed: the loop keeps the last good decision');
      expect(failed.map((l) => [l.code, l.err])).toEqual([
        ['ENTROPY_POLICY_FAILED', "policy 'flaky' threw: first turn"],
        [
          'ENTROPY_INVALID_DECISION',
          `policy 'flaky' returned an invalid decision: vjob 'j1': unknown state "dancing" (expected one of waiting, running, sleeping, terminated)`,
        ],
      ]);
      expect(c.log()).not.toMatch(/"level":(50|60).*(stack| {4}at )/);
    });

    it('a policy that does not load stops the controller at start with one line and exit 1', async () => {
      const r = await entropyIn(
        dirOf('type-commonjs'),
        'controller',
        '--nats',
        server.url,
        '--prefix',
        'pl3',
        '--policy',
        './throws-on-load.js',
      );
      expect(r.status).toBe(1);
      expect(r.stderr).toMatch(/^error: policy module \S+throws-on-load\.js failed to load: cannot start\n$/);
    });
  });
});
