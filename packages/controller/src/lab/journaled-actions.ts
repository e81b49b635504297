import type { NatsConnection } from '@nats-io/transport-node';
import { silentLogger } from '@entropy/protocol';
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

/** How long to wait for the plan's end record: the controller writes its last results after the plan's last progress message. */
const END_WAIT_MS = 10_000;

/**
 * Every action of a plan from the controller's journal (JetStream), in the order their intents
 * were written, once the plan's end is journaled (or after 10 s, with what is there).
 */
export async function journaledActions(
  nc: NatsConnection,
  planId: string,
  prefix = 'entropy',
): Promise<JournaledAction[]> {
  const journal = await StreamJournal.existing(nc, { prefix, logger: silentLogger });
  const deadline = Date.now() + END_WAIT_MS;
  let summary = summarizePlan(await journal.read(planId));
  while (!summary.end && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 100));
    summary = summarizePlan(await journal.read(planId));
  }
  const { intents, results } = summary;
  return intents.map((i: IntentRecord) => {
    const r: ResultRecord | undefined = results.get(i.actionId);
    return {
      actionId: i.actionId,
      type: i.type,
      vm: i.vm,
      vjob: i.vjob,
      node: i.node,
      ok: r?.ok,
      ...(i.from !== undefined ? { from: i.from } : {}),
      ...(i.to !== undefined ? { to: i.to } : {}),
      ...(r?.durationMs !== undefined ? { durationMs: r.durationMs } : {}),
      ...(r?.startedAt !== undefined ? { startedAt: r.startedAt } : {}),
      ...(r?.endedAt !== undefined ? { endedAt: r.endedAt } : {}),
    };
  });
}
