import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectNats, type NatsConnection } from '../packages/controller/src/controller/nats-connect.ts';
import { EntropyError } from '@entropy/protocol';
import { KvQueueStore, openQueueStore } from '../packages/controller/src/queue/kv-queue-store.ts';
import { describeQueueStore } from '../packages/controller/test/support/queue-store-contract.ts';
import { type NatsServer, startNatsServer } from './helpers/nats-server.ts';

let server: NatsServer;
let nc: NatsConnection;
let buckets = 0;

beforeAll(async () => {
  server = await startNatsServer({ jetstream: true });
  nc = await connectNats(server.url, 'test-kv');
});
afterAll(async () => {
  await nc?.close();
  await server?.stop();
});

describeQueueStore('JetStream KV', () => KvQueueStore.open(nc, `test_queue_${++buckets}`));

describe('the KV queue store across controller restarts', () => {
  it('a vjob written through one connection is read back, with its updates, through a new one', async () => {
    const first = await KvQueueStore.open(nc, 'restart_queue');
    await first.add({
      id: 'j1',
      priority: 1,
      submittedAt: 5,
      state: 'waiting',
      vms: [{ id: 'j1-vm1', demand: { cpu: 1, mem: 256 } }],
    });
    await first.update('j1', (v) => ({ ...v, state: 'running' }));
    const other = await connectNats(server.url, 'test-kv-restarted');
    try {
      const second = await KvQueueStore.open(other, 'restart_queue');
      expect(await second.list()).toEqual([
        {
          id: 'j1',
          priority: 1,
          submittedAt: 5,
          state: 'running',
          vms: [{ id: 'j1-vm1', demand: { cpu: 1, mem: 256 } }],
        },
      ]);
    } finally {
      await other.close();
    }
  });

  it('reports an entry it cannot read and lists the others', async () => {
    const reasons: string[] = [];
    const store = await KvQueueStore.open(nc, 'corrupt_queue', {
      onInvalid: (key, reason) => reasons.push(`${key}: ${reason}`),
    });
    await store.add({ id: 'ok', priority: 0, submittedAt: 1, state: 'waiting', vms: [] });
    // A raw publish on the bucket's subject, as a hand edit or another program would write it.
    await nc.request('$KV.corrupt_queue.bad', new TextEncoder().encode('{"id": 3}'));
    expect((await store.list()).map((v) => v.id)).toEqual(['ok']);
    expect(reasons).toEqual([expect.stringMatching(/^bad: /)]);
  });
});

describe('openQueueStore without JetStream', () => {
  let plain: NatsServer;
  let pc: NatsConnection;
  beforeAll(async () => {
    plain = await startNatsServer();
    pc = await connectNats(plain.url, 'test-no-js');
  });
  afterAll(async () => {
    await pc?.close();
    await plain?.stop();
  });

  it('kv: fails with a one-line error that says how to enable JetStream', async () => {
    const err = await openQueueStore(pc, { kind: 'kv', bucket: 'q', logger: silent() }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(EntropyError);
    expect((err as EntropyError).code).toBe('ENTROPY_IO');
    expect((err as Error).message).toMatch(/JetStream KV bucket q unavailable .*nats-server -js -sd DIR/);
    expect((err as Error).message).not.toContain('\n');
  });

  it('auto: falls back to memory with a warning', async () => {
    const warnings: string[] = [];
    const store = await openQueueStore(pc, {
      kind: 'auto',
      bucket: 'q',
      logger: { ...silent(), warn: (_o, msg) => warnings.push(msg ?? '') },
    });
    expect(store.kind).toBe('memory');
    expect(warnings.join()).toMatch(/kept in memory and lost when the controller stops/);
  });
});

function silent() {
  return { info() {}, warn(_o: object, _m?: string) {}, error() {}, debug() {} };
}
