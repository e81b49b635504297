import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectNats, type NatsConnection } from '../packages/controller/src/controller/nats-connect.ts';
import { silentLogger } from '../packages/controller/src/controller/logger.ts';
import { type JournalRecord, MemoryJournal, summarizePlan } from '../packages/controller/src/journal/plan-journal.ts';
import { journalSubject, openJournal, StreamJournal } from '../packages/controller/src/journal/stream-journal.ts';
import { type NatsServer, startNatsServer } from './helpers/nats-server.ts';

const records = (planId: string, n: number): JournalRecord[] => [
  { kind: 'plan', planId, controller: 'c1', token: 7, mode: 'barrier', actions: n, decision: { j1: 'running' }, at: 1 },
  ...Array.from({ length: n }, (_, i): JournalRecord => ({ kind: 'intent', planId, actionId: `${planId}:a${i + 1}`, node: 'n1', type: 'run', vm: `v${i}`, vjob: 'j1', at: 2 })),
  ...Array.from({ length: n - 1 }, (_, i): JournalRecord => ({ kind: 'result', planId, actionId: `${planId}:a${i + 1}`, ok: true, state: 'running', host: 'n1', via: 'reply', at: 3 })),
];

describe('the plan journal', () => {
  it('summarizes a plan: its header, its results, and the intents without a result', async () => {
    const journal = new MemoryJournal();
    await journal.append(records('p1', 3));
    const s = summarizePlan(await journal.read('p1'));
    expect(s.plan).toMatchObject({ planId: 'p1', token: 7 });
    expect(s.end).toBeUndefined();
    expect(s.results.size).toBe(2);
    expect(s.inFlight.map((i) => i.actionId)).toEqual(['p1:a3']);
    expect(await journal.read('other')).toEqual([]);
  });
});

describe('the plan journal in a JetStream stream (real nats-server)', () => {
  let server: NatsServer;
  let nc: NatsConnection;
  beforeAll(async () => {
    server = await startNatsServer({ jetstream: true });
    nc = await connectNats(server.url, 'test-journal');
  });
  afterAll(async () => {
    await nc?.close();
    await server?.stop();
  });

  it('reads back one plan\'s records in order, alone, across reopenings, and skips a malformed record', async () => {
    const journal = await StreamJournal.open(nc, { prefix: 'jt', logger: silentLogger });
    await journal.append(records('p1', 1500));
    await journal.append(records('p2', 2));
    nc.publish(journalSubject('jt', 'p2'), new TextEncoder().encode('{"kind":"intent"}'));
    await nc.flush();
    await journal.append([{ kind: 'end', planId: 'p2', status: 'completed', at: 9 }]);
    const again = await StreamJournal.open(nc, { prefix: 'jt', logger: silentLogger });
    const p1 = await again.read('p1');
    expect(p1).toHaveLength(1 + 1500 + 1499);
    expect(p1[0]).toMatchObject({ kind: 'plan', planId: 'p1' });
    expect(summarizePlan(p1).inFlight.map((i) => i.actionId)).toEqual(['p1:a1500']);
    const p2 = await again.read('p2');
    expect(p2.map((r) => r.kind)).toEqual(['plan', 'intent', 'intent', 'result', 'end']);
    expect(await again.read('nothing')).toEqual([]);
  });

  it('falls back to memory, with a warning, when the server has no JetStream', async () => {
    const plain = await startNatsServer();
    const c = await connectNats(plain.url, 'test-journal-plain');
    const warnings: string[] = [];
    try {
      const journal = await openJournal(c, { prefix: 'jt', logger: { ...silentLogger, warn: (_o: object, msg?: string) => void warnings.push(msg ?? '') } });
      expect(journal.kind).toBe('memory');
      expect(warnings[0]).toMatch(/jt_journal unavailable/);
      await expect(openJournal(c, { prefix: 'jt', logger: silentLogger, required: true })).rejects.toMatchObject({ code: 'ENTROPY_IO' });
    } finally {
      await c.close();
      await plain.stop();
    }
  });
});
