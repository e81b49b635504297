import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { decode, encode } from '@entropy/protocol';
import { describe, expect, it } from 'vitest';
import { contextSwitch } from '../engine/context-switch.ts';
import { parseInstance } from '../instance/parse-instance.ts';
import type { ExecutorEvent } from './events.ts';
import { executePlan } from './execute-plan.ts';
import { MemoryTransport } from './memory-transport.ts';
import { toPlanProgress } from './nats-progress.ts';

const reference = parseInstance(JSON.parse(readFileSync(resolve(import.meta.dirname, '../../../../examples/reference.json'), 'utf8')));

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
    expect(end).toMatchObject({ kind: 'plan-failed', error: { code: 'ENTROPY_INJECTED_FAILURE' }, counts: { failed: 1 } });
    const undo = events.filter((e) => e.kind === 'action-done' && e.undo).map((e) => toPlanProgress(e)!);
    expect(undo).toHaveLength(8);
    for (const u of undo) expect(u.actionId).toMatch(/^p1:undo-a\d+$/);
  });
});
