import {
  ACTION_TYPES,
  ActionErrorCode,
  type ActionRequest,
  type ActionResult,
  actionResultSchema,
  type LedgerReply,
  LedgerStatus,
} from '@entropy/protocol';
import * as z from 'zod';
import { JsonLinesFile, readJsonLines } from './json-lines-file.ts';

/** What the ledger keeps of one action id. */
export interface LedgerEntry {
  readonly actionId: string;
  readonly type: ActionRequest['type'];
  readonly vm: string;
  readonly vjob: string;
  readonly planId: string;
  readonly token?: number;
  readonly startedAt: number;
  status: Exclude<LedgerStatus, 'unknown'>;
  result?: ActionResult;
  /** While the action runs in this process. */
  promise?: Promise<ActionResult>;
}

export type LedgerOutcome =
  | { readonly kind: 'new' | 'duplicate'; readonly result: Promise<ActionResult> }
  | { readonly kind: 'conflict'; readonly first: { readonly type: string; readonly vm: string } };

export const DEFAULT_LEDGER_SIZE = 10_000;

// Journal records: one when an action starts, one when it ends.
const startRecord = z.object({
  k: z.literal('start'),
  id: z.string(),
  type: z.enum(ACTION_TYPES),
  vm: z.string(),
  vjob: z.string(),
  planId: z.string(),
  token: z.number().optional(),
  at: z.number(),
});
const endRecord = z.object({
  k: z.literal('end'),
  id: z.string(),
  status: z.enum([LedgerStatus.Done, LedgerStatus.Failed, LedgerStatus.Interrupted]),
  result: actionResultSchema,
});
const record = z.discriminatedUnion('k', [startRecord, endRecord]);
type StartRecord = z.infer<typeof startRecord>;

export interface ActionLedgerOptions {
  /** The node, named in the results of interrupted actions. */
  readonly node: string;
  /** Ended entries kept; older ones are forgotten (a plan is far smaller). */
  readonly maxEntries?: number;
  readonly now?: () => number;
  /** A journal write failed after the action ended: after a restart the action reads as interrupted. */
  readonly onWriteError?: (err: Error) => void;
}

export interface LedgerRecovery {
  /** Ids that had started and not ended when the previous agent process died. */
  readonly interrupted: string[];
  /** Journal lines that could not be read (a torn last line). */
  readonly badLines: number;
}

/** The failed result an action gets when the agent restarted while it ran. */
export function interruptedResult(node: string, e: Pick<LedgerEntry, 'actionId' | 'type' | 'vm'>): ActionResult {
  return {
    actionId: e.actionId,
    node,
    ok: false,
    error: {
      code: ActionErrorCode.Interrupted,
      message: `the agent of ${node} restarted during ${e.type} ${e.vm} (action ${e.actionId}); it is not run again, and the VM's state is in ${node}'s status`,
    },
    durationMs: 0,
    final: true,
  };
}

/**
 * Remembers every action id the agent has started, in a journal that outlives the agent. A retry
 * while the action runs gets the same promise; a retry afterwards gets the recorded result; an
 * action cut short by the agent's death is `interrupted` and never runs again. The driver never
 * runs an id twice, across restarts too. The oldest ended entries are forgotten past `maxEntries`.
 */
export class ActionLedger {
  private readonly entries = new Map<string, LedgerEntry>();
  /** The running entries, so that status and shutdown need not walk the whole ledger. */
  private readonly active = new Map<string, LedgerEntry>();
  private ended = 0;
  private readonly maxEntries: number;
  private readonly now: () => number;
  private journal: JsonLinesFile | undefined;

  constructor(private readonly opts: ActionLedgerOptions) {
    this.maxEntries = opts.maxEntries ?? DEFAULT_LEDGER_SIZE;
    this.now = opts.now ?? Date.now;
  }

  /**
   * Reads the journal `file` (if any), marks what had not ended as interrupted, and rewrites it
   * compacted: the interrupted entries get their end record, a torn last line disappears.
   */
  static open(file: string, opts: ActionLedgerOptions): { ledger: ActionLedger; recovery: LedgerRecovery } {
    const ledger = new ActionLedger(opts);
    const { values, badLines } = readJsonLines(file);
    let bad = badLines;
    for (const value of values) {
      const r = record.safeParse(value);
      if (!r.success) {
        bad++;
        continue;
      }
      if (r.data.k === 'start') ledger.entries.set(r.data.id, entryOf(r.data));
      else {
        const e = ledger.entries.get(r.data.id);
        if (e) Object.assign(e, { status: r.data.status, result: r.data.result });
      }
    }
    const interrupted: string[] = [];
    for (const e of ledger.entries.values()) {
      if (e.status !== 'running') continue;
      e.status = 'interrupted';
      e.result = interruptedResult(opts.node, e);
      interrupted.push(e.actionId);
    }
    ledger.ended = ledger.entries.size;
    ledger.evict();
    ledger.journal = new JsonLinesFile(file, ledger.records());
    return { ledger, recovery: { interrupted, badLines: bad } };
  }

  /** The answer to a request whose id is already recorded: its (pending) result, or a conflict; undefined for a new id. */
  recorded(req: Pick<ActionRequest, 'actionId' | 'type' | 'vm'>): LedgerOutcome | undefined {
    const seen = this.entries.get(req.actionId);
    if (!seen) return undefined;
    if (seen.type !== req.type || seen.vm !== req.vm)
      return { kind: 'conflict', first: { type: seen.type, vm: seen.vm } };
    return { kind: 'duplicate', result: seen.promise ?? Promise.resolve(seen.result!) };
  }

  /**
   * Runs `execute` once for a new id, after its start is in the journal (a write failure throws
   * and nothing runs). `execute` must not reject: a failure is a result.
   */
  submit(req: ActionRequest, execute: () => Promise<ActionResult>): LedgerOutcome {
    const known = this.recorded(req);
    if (known) return known;
    const start: StartRecord = {
      k: 'start',
      id: req.actionId,
      type: req.type,
      vm: req.vm,
      vjob: req.vjob,
      planId: req.planId,
      ...(req.token !== undefined ? { token: req.token } : {}),
      at: this.now(),
    };
    this.journal?.append(start);
    const entry = entryOf(start);
    this.entries.set(entry.actionId, entry);
    this.active.set(entry.actionId, entry);
    const promise = execute();
    entry.promise = promise;
    void promise.then((result) => this.end(entry, result));
    return { kind: 'new', result: promise };
  }

  has(actionId: string): boolean {
    return this.entries.has(actionId);
  }

  /** Results of the actions still running. */
  pending(): Promise<ActionResult>[] {
    return [...this.active.values()].flatMap((e) => (e.promise ? [e.promise] : []));
  }

  /** The actions running now, oldest first. */
  running(): { actionId: string; type: ActionRequest['type']; vm: string }[] {
    return [...this.active.values()].map((e) => ({ actionId: e.actionId, type: e.type, vm: e.vm }));
  }

  query(actionIds: readonly string[]): LedgerReply['entries'] {
    return actionIds.map((actionId) => {
      const e = this.entries.get(actionId);
      if (!e) return { actionId, status: LedgerStatus.Unknown };
      return e.result ? { actionId, status: e.status, result: e.result } : { actionId, status: e.status };
    });
  }

  close(): void {
    this.journal?.close();
    this.journal = undefined;
  }

  private end(entry: LedgerEntry, result: ActionResult): void {
    entry.status = result.ok ? 'done' : 'failed';
    entry.result = result;
    entry.promise = undefined;
    this.active.delete(entry.actionId);
    this.ended++;
    this.evict();
    try {
      this.journal?.append({ k: 'end', id: entry.actionId, status: entry.status, result });
      // Compaction: the journal holds at most about twice what the ledger keeps.
      if (this.journal && this.journal.appended > 2 * Math.max(this.maxEntries, 500))
        this.journal.rewrite(this.records());
    } catch (err) {
      this.opts.onWriteError?.(err as Error);
    }
  }

  private records(): unknown[] {
    const out: unknown[] = [];
    for (const e of this.entries.values()) {
      out.push({
        k: 'start',
        id: e.actionId,
        type: e.type,
        vm: e.vm,
        vjob: e.vjob,
        planId: e.planId,
        ...(e.token !== undefined ? { token: e.token } : {}),
        at: e.startedAt,
      });
      if (e.status !== 'running') out.push({ k: 'end', id: e.actionId, status: e.status, result: e.result });
    }
    return out;
  }

  private evict(): void {
    if (this.ended <= this.maxEntries) return;
    for (const [id, e] of this.entries) {
      if (this.ended <= this.maxEntries) break;
      if (e.status !== 'running') {
        this.entries.delete(id);
        this.ended--;
      }
    }
  }
}

function entryOf(r: StartRecord): LedgerEntry {
  return {
    actionId: r.id,
    type: r.type,
    vm: r.vm,
    vjob: r.vjob,
    planId: r.planId,
    ...(r.token !== undefined ? { token: r.token } : {}),
    startedAt: r.at,
    status: 'running',
  };
}
