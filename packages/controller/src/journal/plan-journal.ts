import * as z from 'zod';

/**
 * The plan journal: what the controller asked of the agents and what they answered, written before
 * and after each action. A controller that restarts (or a standby that takes over) reads the latest
 * plan's records to learn which actions may still be in flight, asks their agents, and reconciles
 * from what it learns; it never replays the plan itself.
 */

const time = z.number().finite().min(0);
const id = z.string().min(1).max(256);

export const journalRecordSchema = z.discriminatedUnion('kind', [
  z.object({
    kind: z.literal('plan'),
    planId: id,
    controller: id,
    /** The leader's fencing token when the plan started, if it had one. */
    token: z.number().int().min(0).optional(),
    mode: z.string(),
    actions: z.number().int().min(0),
    /** The wanted state of each vjob the plan serves. */
    decision: z.record(z.string(), z.string()),
    at: time,
  }),
  z.object({
    kind: z.literal('intent'),
    planId: id,
    /** The id on the wire: `<planId>:<action id>`. */
    actionId: id,
    node: id,
    type: z.string(),
    vm: id,
    vjob: id,
    /** Where the VM (or its image) is and where it goes, as in the plan. */
    from: id.optional(),
    to: id.optional(),
    /** The VM's memory (MiB) and the cost model's estimate: with the result's durationMs, a calibration sample. */
    mem: time.optional(),
    estimatedMs: time.optional(),
    /** The action's place in the plan: its step, and its planned start and end in ms from the plan's start. */
    step: z.number().int().min(0).optional(),
    start: time.optional(),
    end: time.optional(),
    at: time,
  }),
  z.object({
    kind: z.literal('result'),
    planId: id,
    actionId: id,
    ok: z.boolean(),
    code: z.string().optional(),
    message: z.string().optional(),
    /** True when retrying cannot help (the agent said so). */
    final: z.boolean().optional(),
    state: z.string().optional(),
    host: z.string().optional(),
    /** How long the action took, measured by the agent around the hypervisor call. */
    durationMs: time.optional(),
    /** The agent's start and end of the hypervisor call (epoch ms, its clock). */
    startedAt: time.optional(),
    endedAt: time.optional(),
    /** How the result was learnt: the executor's reply, or a ledger query after a controller restart. */
    via: z.enum(['reply', 'ledger']).optional(),
    at: time,
  }),
  z.object({
    kind: z.literal('end'),
    planId: id,
    status: z.string(),
    at: time,
  }),
]);
export type JournalRecord = z.infer<typeof journalRecordSchema>;
export type IntentRecord = Extract<JournalRecord, { kind: 'intent' }>;
export type ResultRecord = Extract<JournalRecord, { kind: 'result' }>;

/** Where the records go. Appends of one plan keep their order; `read` returns them in that order. */
export interface PlanJournal {
  readonly kind: 'stream' | 'memory';
  /** Resolves once the records are stored durably (an intent must be, before its action is sent). */
  append(records: readonly JournalRecord[]): Promise<void>;
  /** Every record of one plan, in append order; malformed ones are reported and skipped. */
  read(planId: string): Promise<JournalRecord[]>;
  /** The ids of the plans with records, the one written to last at the end. */
  plans(): Promise<string[]>;
  close(): Promise<void>;
}

/** What a plan's records say: its header, its end if any, and the actions sent without a known result. */
export interface PlanSummary {
  readonly plan?: Extract<JournalRecord, { kind: 'plan' }>;
  readonly end?: Extract<JournalRecord, { kind: 'end' }>;
  readonly intents: readonly IntentRecord[];
  readonly results: ReadonlyMap<string, ResultRecord>;
  /** Intents with no result: the agent may have run them, may be running them, or never got them. */
  readonly inFlight: readonly IntentRecord[];
}

export function summarizePlan(records: readonly JournalRecord[]): PlanSummary {
  let plan: PlanSummary['plan'];
  let end: PlanSummary['end'];
  const intents: IntentRecord[] = [];
  const results = new Map<string, ResultRecord>();
  for (const r of records) {
    if (r.kind === 'plan') plan = r;
    else if (r.kind === 'end') end = r;
    else if (r.kind === 'intent') intents.push(r);
    else results.set(r.actionId, r);
  }
  const seen = new Set<string>();
  const inFlight = intents.filter((i) => !results.has(i.actionId) && !seen.has(i.actionId) && seen.add(i.actionId));
  return { ...(plan ? { plan } : {}), ...(end ? { end } : {}), intents, results, inFlight };
}

/** The journal in this process's memory: for tests and clusters without JetStream. */
export class MemoryJournal implements PlanJournal {
  readonly kind = 'memory' as const;
  private readonly records = new Map<string, JournalRecord[]>();

  async append(records: readonly JournalRecord[]): Promise<void> {
    for (const r of records) {
      const list = this.records.get(r.planId) ?? [];
      // Re-inserted: the map's order is the order of each plan's last record.
      this.records.delete(r.planId);
      this.records.set(r.planId, [...list, structuredClone(r)]);
    }
  }

  async plans(): Promise<string[]> {
    return [...this.records.keys()];
  }

  async read(planId: string): Promise<JournalRecord[]> {
    return (this.records.get(planId) ?? []).map((r) => structuredClone(r));
  }

  async close(): Promise<void> {}
}
