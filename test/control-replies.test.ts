import { randomFillSync } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  askController,
  connectNats,
  type NatsConnection,
  requestChunkedReply,
  respondChunked,
} from '../packages/controller/src/controller/nats-connect.ts';
import { encode, encodeControl, type NodeStatus, type StatusReply, subjects } from '@entropy/protocol';
import { type ControllerProcess, entropy, startControllerProcess, stopProcess } from './helpers/entropy-process.ts';
import { type NatsServer, startNatsServer } from './helpers/nats-server.ts';
import { controllerStatus } from './helpers/controller-status.ts';
import { waitFor } from './helpers/wait-for.ts';

/** A reply of `n` random bytes (not a control message: the chunks carry bytes, whatever they encode). */
const randomBytes = (n: number) => randomFillSync(new Uint8Array(n));

describe('chunked control replies on a nats-server whose max_payload is 64 KiB', () => {
  const dir = mkdtempSync(join(tmpdir(), 'entropy-chunks-'));
  const to = (url: string) => ({ subjects: subjects('chunks'), url });
  let server: NatsServer;
  let controller: NatsConnection;
  let client: NatsConnection;
  const replies = new Map<string, Uint8Array>();

  beforeAll(async () => {
    writeFileSync(join(dir, 'server.conf'), 'max_payload: 65536\n');
    server = await startNatsServer({ config: join(dir, 'server.conf') });
    controller = await connectNats(server.url, 'test-chunks-controller');
    client = await connectNats(server.url, 'test-chunks-client');
    // A stand-in controller: answers each verb with the bytes the test put there.
    const sub = controller.subscribe('chunks.control.*');
    void (async () => {
      for await (const m of sub) respondChunked(controller, m, replies.get(m.subject.split('.').pop()!)!);
    })();
    await controller.flush();
  });

  afterAll(async () => {
    await client?.close();
    await controller?.close();
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('delivers a reply of 3 MiB whole, in chunks under the server limit', async () => {
    expect(controller.info?.max_payload).toBe(65536);
    const reply = randomBytes(3 * 1024 * 1024);
    replies.set('status', reply);
    const got = await requestChunkedReply(client, to(server.url), 'status', encodeControl('statusRequest', {}), 10_000);
    expect(got.length).toBe(reply.length);
    expect(Buffer.from(got).equals(Buffer.from(reply))).toBe(true);
    // Counted on the wire: 49 chunks of at most 64 KiB less the margin, then the empty sentinel.
    const sizes: number[] = [];
    for await (const m of await client.requestMany('chunks.control.status', new Uint8Array(0), {
      strategy: 'sentinel',
      maxWait: 10_000,
    }))
      sizes.push(m.data.length);
    expect(sizes).toHaveLength(Math.ceil(reply.length / (65536 - 1024)) + 1);
    expect(Math.max(...sizes)).toBeLessThanOrEqual(65536 - 1024);
    expect(sizes.at(-1)).toBe(0);
  });

  it('sends a small reply as one message and the sentinel, and decodes it', async () => {
    const status: StatusReply = { controller: 'c1', ts: 1, nodes: [], vms: [], excluded: [] };
    replies.set('queue', encodeControl('statusReply', status));
    const sizes: number[] = [];
    for await (const m of await client.requestMany('chunks.control.queue', new Uint8Array(0), {
      strategy: 'sentinel',
      maxWait: 10_000,
    }))
      sizes.push(m.data.length);
    expect(sizes).toEqual([replies.get('queue')!.length, 0]);
    expect(await askController(client, to(server.url), 'queue', new Uint8Array(0), 'statusReply', 10_000)).toEqual(
      status,
    );
  });

  it('fails at once with one line naming the prefix and URL when nobody listens', async () => {
    const started = Date.now();
    const err = await requestChunkedReply(
      client,
      { subjects: subjects('nobody'), url: server.url },
      'status',
      new Uint8Array(0),
      10_000,
    ).catch((e: Error) => e);
    expect(err).toMatchObject({ code: 'ENTROPY_IO' });
    expect((err as Error).message).toBe(
      `nobody.control.status: no controller is listening on prefix nobody at ${server.url} (start one with: entropy controller --nats ${server.url} --prefix nobody)`,
    );
    expect(Date.now() - started).toBeLessThan(2000);
  });
});

describe('the CLI against a dead controller: one line on stderr, exit 1, within seconds', () => {
  const dir = mkdtempSync(join(tmpdir(), 'entropy-dead-controller-'));
  const vjobFile = join(dir, 'j1.json');
  let server: NatsServer;
  let hung: NatsConnection;

  beforeAll(async () => {
    writeFileSync(vjobFile, JSON.stringify({ id: 'j1', priority: 0, vms: [{ id: 'j1-vm1', cpu: 1, mem: 512 }] }));
    server = await startNatsServer();
    // A "controller" that takes every control request and never answers.
    hung = await connectNats(server.url, 'test-hung-controller');
    hung.subscribe('hung.control.>');
    await hung.flush();
  });

  afterAll(async () => {
    await hung?.close();
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const commands: readonly [string, ...string[]][] = [['status'], ['queue'], ['submit', vjobFile], ['cancel', 'j1']];

  // One after the other: the wall time bounds a command's own start and wait, not a queue of processes.
  const runAll = async (prefix: string) => {
    const results = [];
    for (const args of commands) {
      const started = Date.now();
      const r = await entropy(...args, '--nats', server.url, '--prefix', prefix);
      results.push({ verb: args[0], ...r, ms: Date.now() - started });
    }
    return results;
  };

  it('no controller at all: every command says so at once', async () => {
    for (const r of await runAll('nobody')) {
      expect(r.status, r.verb).toBe(1);
      expect(r.stdout).toBe('');
      expect(r.stderr).toBe(
        `error: nobody.control.${r.verb}: no controller is listening on prefix nobody at ${server.url} (start one with: entropy controller --nats ${server.url} --prefix nobody)\n`,
      );
      // Process start included, on a busy machine.
      expect(r.ms, r.verb).toBeLessThan(15_000);
    }
  });

  it('a hung controller: every command gives up after the default 5 s, or after --timeout', async () => {
    for (const r of await runAll('hung')) {
      expect(r.status, r.verb).toBe(1);
      expect(r.stderr).toBe(
        `error: hung.control.${r.verb}: no reply within 5000 ms from the controller on prefix hung at ${server.url}\n`,
      );
      expect(r.ms, r.verb).toBeGreaterThanOrEqual(5000);
      expect(r.ms, r.verb).toBeLessThan(15_000);
    }
    const short = await entropy('status', '--nats', server.url, '--prefix', 'hung', '--timeout', '1000');
    expect(short.status).toBe(1);
    expect(short.stderr).toMatch(/^error: hung\.control\.status: no reply within 1000 ms .*\n$/);
  });
});

describe('entropy status --json on a controller that sees 25,000 VMs (a 2 MiB reply, above the 1 MiB max_payload)', () => {
  const prefix = 'big';
  const NODES = 25;
  const PER_NODE = 1000;
  let server: NatsServer;
  let nc: NatsConnection;
  let controller: ControllerProcess;
  let timer: NodeJS.Timeout | undefined;

  beforeAll(async () => {
    server = await startNatsServer();
    nc = await connectNats(server.url, 'test-big-agents');
    controller = startControllerProcess(server.url, prefix, '--queue-store', 'memory');
    await waitFor('the controller to start', () => controller.log().includes('controller started'));
    // Fake agents: each node publishes a status of 1,000 running VMs, faster than the controller's 500 ms period.
    const s = subjects(prefix);
    let seq = 0;
    const publish = () => {
      seq++;
      for (let n = 0; n < NODES; n++) {
        const node = `n${n}`;
        const vms = Array.from({ length: PER_NODE }, (_, i) => ({
          id: `vm-${n}-${i}`,
          vjob: `j${n}`,
          state: 'running' as const,
          host: node,
          cpu: 0.5,
          mem: 512,
        }));
        const status: NodeStatus = {
          node,
          seq,
          ts: Date.now(),
          driver: 'sim',
          capacity: { cpu: 1000, mem: 1024 * 1024 },
          vms,
          inFlight: 0,
        };
        nc.publish(s.nodeStatus(node), encode('status', status));
      }
    };
    publish();
    timer = setInterval(publish, 300);
  });

  afterAll(async () => {
    if (timer) clearInterval(timer);
    await stopProcess(controller);
    await nc?.close();
    await server?.stop();
  });

  it('prints every VM', async () => {
    await waitFor(
      'the controller to see every VM',
      async () => (await controllerStatus(nc, prefix).catch(() => undefined))?.vms.length === NODES * PER_NODE,
    );
    const r = await entropy('status', '--json', '--nats', server.url, '--prefix', prefix, '--timeout', '30000');
    expect(r.status, r.stderr).toBe(0);
    const status = JSON.parse(r.stdout) as StatusReply;
    expect(status.nodes).toHaveLength(NODES);
    expect(status.vms.length).toBe(NODES * PER_NODE);
    expect(status.vms[0]).toEqual({
      id: 'vm-0-0',
      vjob: 'j0',
      state: 'running',
      host: 'n0',
      demand: { cpu: 0.5, mem: 512 },
    });
    expect(r.stdout.length).toBeGreaterThan(1024 * 1024);
  });
});
