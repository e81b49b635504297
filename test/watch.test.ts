import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectNats, type NatsConnection } from '../packages/controller/src/controller/nats-connect.ts';
import { parseInstance } from '@entropy/engine';
import { startSimCluster, type SimCluster } from './executor-cluster.ts';
import { controllerStatus } from './helpers/controller-status.ts';
import { type ControllerProcess, entropy, startControllerProcess, stopProcess } from './helpers/entropy-process.ts';
import { type NatsServer, startNatsServer } from './helpers/nats-server.ts';
import { waitFor } from './helpers/wait-for.ts';

const WATCH_BIN = new URL('../packages/agent/bin/entropy-watch.js', import.meta.url).pathname;

type Line = {
  subject: string;
  kind?: string;
  reply?: string;
  inReplyTo?: string;
  guessed?: boolean;
  msg?: Record<string, unknown>;
  error?: unknown;
  bytes?: number;
  value?: unknown;
  chunks?: number;
};

/** An entropy-watch process and the JSON lines it printed so far. */
function startWatch(...args: string[]) {
  const child: ChildProcess = spawn(process.execPath, [WATCH_BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    child,
    exited,
    stderr: () => err,
    lines: (): Line[] =>
      out
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as Line),
  };
}

describe('entropy-watch against a real nats-server, controller and sim agents', () => {
  const prefix = 'wt';
  const dir = mkdtempSync(join(tmpdir(), 'entropy-watch-'));
  let server: NatsServer;
  let nc: NatsConnection;
  let controller: ControllerProcess;
  let agents: SimCluster;
  let all: ReturnType<typeof startWatch>;
  let actions: ReturnType<typeof startWatch>;
  let raw: ReturnType<typeof startWatch>;

  beforeAll(async () => {
    server = await startNatsServer();
    nc = await connectNats(server.url, 'test-watch');
    all = startWatch('--nats', server.url, '--prefix', prefix);
    actions = startWatch('--nats', server.url, '--prefix', prefix, `${prefix}.node.*.action`);
    raw = startWatch('--nats', server.url, '--prefix', prefix, '--raw');
    // each watcher is subscribed once it prints a probe
    await waitFor('the watchers to subscribe', async () => {
      nc.publish(`${prefix}.node.probe.action`, new Uint8Array([1]));
      await nc.flush();
      return [all, actions, raw].every((w) => w.lines().some((l) => l.subject === `${prefix}.node.probe.action`));
    });
    controller = startControllerProcess(server.url, prefix, '--policy', 'fifo-ffd', '--loop-interval', '500');
    await waitFor('the controller to start', () => controller.log().includes('controller started'));
    agents = startSimCluster(
      parseInstance({
        nodes: [
          { id: 'w1', cpu: 4, mem: 4096 },
          { id: 'w2', cpu: 4, mem: 4096 },
        ],
        vms: [],
        vjobs: [],
      }),
      { url: server.url, prefix, statusIntervalMs: 500, speed: 50 },
    );
    await waitFor(
      'both agents online',
      async () =>
        (await controllerStatus(nc, prefix).catch(() => undefined))?.nodes.filter((n) => n.liveness === 'online')
          .length === 2,
    );
    const vjob = join(dir, 'j1.json');
    writeFileSync(
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
    const submitted = await entropy('submit', vjob, '--nats', server.url, '--prefix', prefix);
    expect(submitted.status, submitted.stderr).toBe(0);
    await waitFor('two action results', () => all.lines().filter((l) => l.kind === 'actionResult').length === 2);
    // Each watcher is a process of its own: the filtered and the raw ones see the results in their own time.
    await waitFor(
      'the filtered watch sees both results',
      () => actions.lines().filter((l) => l.kind === 'actionResult').length === 2,
    );
    await waitFor(
      'the raw watch sees both results',
      () => raw.lines().filter((l) => l.inReplyTo?.endsWith('.action')).length >= 2,
    );
  });

  afterAll(async () => {
    for (const w of [all, actions, raw]) {
      if (w && w.child.exitCode === null) {
        w.child.kill('SIGTERM');
        await w.exited;
      }
    }
    await stopProcess(controller);
    await agents?.stop();
    await nc?.close();
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('shows hellos and their acknowledgements, statuses, control requests and replies, action requests and results, decoded', () => {
    const probes = all.lines().filter((l) => l.subject === `${prefix}.node.probe.action`);
    expect(probes[0]).toEqual({
      subject: `${prefix}.node.probe.action`,
      kind: 'actionRequest',
      error: expect.objectContaining({ code: 'ENTROPY_INVALID_MESSAGE' }),
    });
    const lines = all.lines().filter((l) => l.subject !== `${prefix}.node.probe.action`);
    const hello = lines.find((l) => l.kind === 'hello' && l.msg?.node === 'w1')!;
    expect(hello.subject).toBe(`${prefix}.node.w1.hello`);
    expect(hello.reply).toMatch(/^_INBOX\./);
    expect(lines).toContainEqual({
      subject: hello.reply,
      kind: 'helloAck',
      inReplyTo: `${prefix}.node.w1.hello`,
      msg: expect.objectContaining({ node: 'w1' }),
    });
    expect(lines.some((l) => l.kind === 'status' && l.msg?.node === 'w2')).toBe(true);

    const submit = lines.find((l) => l.kind === 'submitRequest')!;
    expect(submit.msg).toMatchObject({ vjob: { id: 'j1' } });
    expect(lines).toContainEqual({
      subject: submit.reply,
      kind: 'submitReply',
      inReplyTo: `${prefix}.control.submit`,
      chunks: 1,
      msg: expect.objectContaining({ ok: true, vjob: expect.objectContaining({ id: 'j1', state: 'waiting' }) }),
    });
    const statusReply = lines.filter((l) => l.kind === 'statusReply').at(-1)!;
    expect(statusReply.inReplyTo).toBe(`${prefix}.control.status`);
    expect((statusReply.msg as { nodes: unknown[] }).nodes.length).toBeGreaterThan(0);

    const requests = lines.filter((l) => l.kind === 'actionRequest');
    expect(requests.map((l) => l.msg?.vm).sort()).toEqual(['j1-vm1', 'j1-vm2']);
    for (const r of requests) {
      expect(lines).toContainEqual({
        subject: r.reply,
        kind: 'actionResult',
        inReplyTo: r.subject,
        msg: expect.objectContaining({ actionId: r.msg!.actionId, ok: true }),
      });
    }
    expect(lines.some((l) => l.kind === 'progress')).toBe(true);
    // nothing is left undecoded: every message has its kind
    expect(lines.filter((l) => l.kind === undefined || l.error !== undefined || l.guessed)).toEqual([]);
    expect(all.stderr()).toBe('');
  });

  it('a subject filter shows its subjects and the replies to their requests only', () => {
    const lines = actions.lines().filter((l) => l.subject !== `${prefix}.node.probe.action`);
    expect(lines.map((l) => l.kind).sort()).toEqual(['actionRequest', 'actionRequest', 'actionResult', 'actionResult']);
    expect(lines.filter((l) => l.kind === 'actionResult').every((l) => l.inReplyTo?.endsWith('.action'))).toBe(true);
  });

  it('--raw prints each message as msgpack gives it, unvalidated', () => {
    const lines = raw.lines();
    const request = lines.find((l) => l.subject.endsWith('.action') && l.reply)!;
    expect(request.value).toMatchObject({ v: 1, type: 'run', vjob: 'j1' });
    expect(lines).toContainEqual(
      expect.objectContaining({
        subject: request.reply,
        inReplyTo: request.subject,
        value: expect.objectContaining({ v: 1, ok: true }),
      }),
    );
    // the probe's byte 1 is a msgpack integer
    expect(lines).toContainEqual({ subject: `${prefix}.node.probe.action`, bytes: 1, value: 1 });
  });

  it('a bad subject filter or an unreachable server is one line and exit 1', async () => {
    for (const args of [
      ['--nats', server.url, 'wt..x'],
      ['--nats', 'nats://127.0.0.1:1'],
    ]) {
      const w = startWatch(...args);
      await w.exited;
      expect(w.child.exitCode).toBe(1);
      expect(w.stderr()).toMatch(/^entropy-watch: [^\n]+\n$/);
    }
  });
});
