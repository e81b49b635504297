import type { ActionRequest, ActionResult } from '@entropy/protocol';

interface Entry {
  readonly type: ActionRequest['type'];
  readonly vm: string;
  readonly result: Promise<ActionResult>;
  settled: boolean;
}

export type LedgerOutcome =
  | { readonly kind: 'new' | 'duplicate'; readonly result: Promise<ActionResult> }
  | { readonly kind: 'conflict'; readonly first: { readonly type: string; readonly vm: string } };

export const DEFAULT_LEDGER_SIZE = 10_000;

/**
 * Remembers every action id the agent has started. A retry while the action runs gets the same
 * promise; a retry afterwards gets the recorded result; the driver never runs an id twice. The
 * oldest finished entries are forgotten past `maxEntries` (a plan is far smaller than that).
 */
export class ActionLedger {
  private readonly entries = new Map<string, Entry>();
  constructor(private readonly maxEntries: number = DEFAULT_LEDGER_SIZE) {}

  submit(req: ActionRequest, execute: () => Promise<ActionResult>): LedgerOutcome {
    const seen = this.entries.get(req.actionId);
    if (seen) {
      if (seen.type !== req.type || seen.vm !== req.vm) return { kind: 'conflict', first: { type: seen.type, vm: seen.vm } };
      return { kind: 'duplicate', result: seen.result };
    }
    const entry: Entry = { type: req.type, vm: req.vm, result: execute(), settled: false };
    void entry.result.finally(() => (entry.settled = true));
    this.entries.set(req.actionId, entry);
    this.evict();
    return { kind: 'new', result: entry.result };
  }

  has(actionId: string): boolean {
    return this.entries.has(actionId);
  }

  /** Results of the actions still running. */
  pending(): Promise<ActionResult>[] {
    return [...this.entries.values()].filter((e) => !e.settled).map((e) => e.result);
  }

  private evict(): void {
    if (this.entries.size <= this.maxEntries) return;
    for (const [id, e] of this.entries) {
      if (this.entries.size <= this.maxEntries) break;
      if (e.settled) this.entries.delete(id);
    }
  }
}
