import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { setImmediate as nextTurn } from 'node:timers/promises';
import type { NatsConnection } from '@nats-io/transport-node';
import { decode, encode, subjects } from '@entropy/protocol';
import { describe, expect, it } from 'vitest';
import { contextSwitch, parseInstance } from '@entropy/engine';
import type { ExecutorEvent } from './events.ts';
import { executePlan } from './execute-plan.ts';
import { MemoryTransport } from './memory-transport.ts';
import { progressPublisher, toPlanProgress } from './nats-progress.ts';

const reference = parseInstance(
  JSON.parse(readFileSync(resolve(import.meta.dirname, '../../../../examples/reference.json'), 'utf8')),
);

async function eventsOf(failOn: string[]): Promise<ExecutorEvent[]> {
  const plan = contextSwitch(reference.configuration, reference.decision, reference.costModel);
  if (!plan.feasible) throw new Error(plan.reason);
  const events: ExecutorEvent[] = [];
  await executePlan(plan, {
    planId: 'p1',
    configuration: reference.configuration,
    decision: reference.decision,
    transport: new MemoryTransport(reference.configuration, { failOn }),
    onEvent: (e) => events.push(e),
  });
  return events;
}

describe('toPlanProgress', () => {
  it('turns every event of a completed and of a failed plan into a valid PlanProgress message', async () => {
    for (const events of [await eventsOf([]), await eventsOf(['j1-vm5'])]) {
      for (const e of events) {
        const msg = toPlanProgress(e);
        if (e.kind === 'action-retried') continue;
        expect(msg, e.kind).toBeDefined();
        const back = decode('progress', encode('progress', msg!));
        expect(back.ok && back.msg.kind).toBe(e.kind);
      }
    }
  });

  it('carries the failure on plan-failed, and the wire id of undo unpauses', async () => {
    const events = await eventsOf(['j1-vm5']);
    const end = toPlanProgress(events.at(-1)!)!;
    expect(end).toMatchObject({
      kind: 'plan-failed',
      error: { code: 'ENTROPY_INJECTED_FAILURE' },
      counts: { failed: 1 },
    });
    const undo = events.filter((e) => e.kind === 'action-done' && e.undo).map((e) => toPlanProgress(e)!);
    expect(undo).toHaveLength(8);
    for (const u of undo) expect(u.actionId).toMatch(/^p1:undo-a\d+$/);
  });
});

describe('progressPublisher', () => {
  /** The part of a connection the publisher uses, recording what it publishes. */
  function recordingConnection() {
    const published: { subject: string; kind: string; actionId?: string }[] = [];
    let closed = false;
    const nc = {
      isClosed: () => closed,
      isDraining: () => false,
      publish(subject: string, data: Uint8Array) {
        const r = decode('progress', data);
        if (!r.ok) throw new Error(`invalid progress: ${r.error.field}: ${r.error.reason}`);
        published.push({ subject, kind: r.msg.kind, ...(r.msg.actionId ? { actionId: r.msg.actionId } : {}) });
      },
    };
    // The publisher needs only these three methods of a NatsConnection.
    return { nc: nc as unknown as NatsConnection, published, close: () => (closed = true) };
  }

  it("publishes every event in order after the current turn, and everything at once with the plan's end", async () => {
    const events = await eventsOf([]);
    const { nc, published } = recordingConnection();
    const publish = progressPublisher(nc, subjects('t'));
    const last = events.length - 1;
    for (const e of events.slice(0, last)) publish(e);
    expect(published).toEqual([]);
    await nextTurn();
    expect(published.map((p) => p.kind)).toEqual(events.slice(0, last).map((e) => e.kind));
    expect(new Set(published.map((p) => p.subject))).toEqual(new Set(['t.plan.p1.progress']));
    // A plan's last event flushes the queue synchronously: nothing is pending once the plan has ended.
    publish(events[1]!);
    publish(events[last]!);
    expect(published.slice(-2).map((p) => p.kind)).toEqual([events[1]!.kind, 'plan-done']);
  });

  it('drops what is queued once the connection is closed, without throwing', async () => {
    const [first, second] = await eventsOf([]);
    const { nc, published, close } = recordingConnection();
    const publish = progressPublisher(nc, subjects('t'));
    publish(first!);
    publish(second!);
    close();
    await nextTurn();
    expect(published).toEqual([]);
  });
});
