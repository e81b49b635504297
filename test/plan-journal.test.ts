import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { samplesFromJournal } from '../packages/controller/src/calibration/journal-samples.ts';
import { actionJournalFor } from '../packages/controller/src/controller/plan-journaling.ts';
import { contextSwitch, costKindOf, parseInstance } from '@entropy/engine';
import { executePlan, MemoryTransport } from '../packages/controller/src/executor/index.ts';
import { connectNats, type NatsConnection } from '../packages/controller/src/controller/nats-connect.ts';
import { silentLogger } from '../packages/controller/src/controller/logger.ts';
import {
  type JournalRecord,
  journalRecordSchema,
  MemoryJournal,
  summarizePlan,
} from '../packages/controller/src/journal/plan-journal.ts';
import { journalSubject, openJournal, StreamJournal } from '../packages/controller/src/journal/stream-journal.ts';
import { type NatsServer, startNatsServer } from './helpers/nats-server.ts';

const records = (planId: string, n: number): JournalRecord[] => [
  { kind: 'plan', planId, controller: 'c1', token: 7, mode: 'barrier', actions: n, decision: { j1: 'running' }, at: 1 },
  ...Array.from(
    { length: n },
    (_, i): JournalRecord => ({
      kind: 'intent',
      planId,
      actionId: `${planId}:a${i + 1}`,
      node: 'n1',
      type: 'run',
      vm: `v${i}`,
      vjob: 'j1',
      at: 2,
    }),
  ),
  ...Array.from(
    { length: n - 1 },
    (_, i): JournalRecord => ({
      kind: 'result',
      planId,
      actionId: `${planId}:a${i + 1}`,
      ok: true,
      state: 'running',
      host: 'n1',
      via: 'reply',
      at: 3,
    }),
  ),
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

  it('records what calibration needs: each intent its kind, memory, nodes and planned times, each result the measured duration', async () => {
    const instance = parseInstance(
      JSON.parse(readFileSync(new URL('../examples/reference.json', import.meta.url), 'utf8')),
    );
    const plan = contextSwitch(instance.configuration, instance.decision, instance.costModel);
    if (!plan.feasible) throw new Error(plan.reason);
    const journal = new MemoryJournal();
    const actions = actionJournalFor(journal, 'cal', silentLogger);
    const outcome = await executePlan(plan, {
      planId: 'cal',
      configuration: instance.configuration,
      decision: instance.decision,
      transport: new MemoryTransport(instance.configuration, { timeScale: 0.001 }),
      journal: actions,
    });
    await actions.flushed();
    expect(outcome.status).toBe('completed');
    const records = await journal.read('cal');
    const memOf = new Map(instance.configuration.vms.map((v) => [v.id, v.demand.mem]));
    const migrate = plan.actions.find((a) => a.type === 'migrate')!;
    expect(records.find((r) => r.kind === 'intent' && r.actionId === `cal:${migrate.id}`)).toMatchObject({
      type: 'migrate',
      node: migrate.from,
      from: migrate.from,
      to: migrate.to,
      mem: memOf.get(migrate.vm),
      estimatedMs: migrate.end - migrate.start,
      step: migrate.step,
      start: migrate.start,
      end: migrate.end,
    });
    const done = outcome.completed.find((c) => c.action.id === migrate.id)!;
    expect(records.find((r) => r.kind === 'result' && r.actionId === `cal:${migrate.id}`)).toMatchObject({
      ok: true,
      durationMs: done.durationMs,
    });
    const { samples, skipped } = samplesFromJournal(records);
    expect(skipped).toBe(0);
    expect(samples).toHaveLength(plan.actions.length);
    expect(new Set(samples.map((x) => x.kind))).toEqual(
      new Set(plan.actions.map((a) => costKindOf(a.type, a.from !== a.to))),
    );
    expect(samples.every((x) => x.durationMs >= 0 && x.mem > 0 && x.node !== undefined)).toBe(true);
  });

  it('still reads records written without the calibration fields, and counts them as skipped samples', () => {
    const old: unknown[] = [
      { kind: 'intent', planId: 'old', actionId: 'old:a1', node: 'n1', type: 'migrate', vm: 'v1', vjob: 'j1', at: 2 },
      {
        kind: 'result',
        planId: 'old',
        actionId: 'old:a1',
        ok: true,
        state: 'running',
        host: 'n2',
        via: 'reply',
        at: 3,
      },
    ];
    const parsed = old.map((r) => journalRecordSchema.parse(r));
    expect(samplesFromJournal(parsed)).toEqual({ samples: [], skipped: 1 });
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

  it("reads back one plan's records in order, alone, across reopenings, and skips a malformed record", async () => {
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
    // The plans, the one written to last at the end.
    await again.append([{ kind: 'end', planId: 'p1', status: 'completed', at: 10 }]);
    expect(await again.plans()).toEqual(['p2', 'p1']);
    expect(await (await StreamJournal.open(nc, { prefix: 'empty', logger: silentLogger })).plans()).toEqual([]);
  });

  it('falls back to memory, with a warning, when the server has no JetStream', async () => {
    const plain = await startNatsServer();
    const c = await connectNats(plain.url, 'test-journal-plain');
    const warnings: string[] = [];
    try {
      const journal = await openJournal(c, {
        prefix: 'jt',
        logger: { ...silentLogger, warn: (_o: object, msg?: string) => void warnings.push(msg ?? '') },
      });
      expect(journal.kind).toBe('memory');
      expect(warnings[0]).toMatch(/jt_journal unavailable/);
      await expect(openJournal(c, { prefix: 'jt', logger: silentLogger, required: true })).rejects.toMatchObject({
        code: 'ENTROPY_IO',
      });
    } finally {
      await c.close();
      await plain.stop();
    }
  });
});
