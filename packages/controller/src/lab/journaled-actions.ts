import type { NatsConnection } from '@nats-io/transport-node';
import { silentLogger } from '../controller/logger.ts';
import { type IntentRecord, type ResultRecord, summarizePlan } from '../journal/plan-journal.ts';
import { StreamJournal } from '../journal/stream-journal.ts';

/** One action of an executed plan, as its journal tells it: what was sent where, and the agent's measure of it. */
export interface JournaledAction {
  readonly actionId: string;
  readonly type: string;
  readonly vm: string;
  readonly vjob: string;
  /** The node that executed it. */
  readonly node: string;
  readonly from?: string;
  readonly to?: string;
  readonly ok: boolean | undefined;
  readonly durationMs?: number;
  readonly startedAt?: number;
  readonly endedAt?: number;
}

/** Every action of a plan from the controller's journal (JetStream), in the order their intents were written. */
export async function journaledActions(nc: NatsConnection, planId: string, prefix = 'entropy'): Promise<JournaledAction[]> {
  const journal = await StreamJournal.open(nc, { prefix, logger: silentLogger });
  const { intents, results } = summarizePlan(await journal.read(planId));
  return intents.map((i: IntentRecord) => {
    const r: ResultRecord | undefined = results.get(i.actionId);
    return {
      actionId: i.actionId, type: i.type, vm: i.vm, vjob: i.vjob, node: i.node, ok: r?.ok,
      ...(i.from !== undefined ? { from: i.from } : {}),
      ...(i.to !== undefined ? { to: i.to } : {}),
      ...(r?.durationMs !== undefined ? { durationMs: r.durationMs } : {}),
      ...(r?.startedAt !== undefined ? { startedAt: r.startedAt } : {}),
      ...(r?.endedAt !== undefined ? { endedAt: r.endedAt } : {}),
    };
  });
}
