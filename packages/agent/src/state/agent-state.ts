import { join } from 'node:path';
import { ActionLedger, type LedgerRecovery } from './action-ledger.ts';
import { FencingToken } from './fencing-token.ts';
import { openStateDir } from './state-dir.ts';
import { VMMetaStore } from './vm-meta-store.ts';

/** The files of a state directory, beside the sim driver's own. */
export const LEDGER_FILE = 'action-ledger.jsonl';
export const VM_META_FILE = 'vm-meta.json';
export const TOKEN_FILE = 'fencing-token.json';

/** What the agent keeps across its restarts. */
export interface AgentState {
  /** Absent for an agent that keeps everything in memory (tests, benchmarks). */
  readonly dir?: string;
  readonly ledger: ActionLedger;
  readonly meta: VMMetaStore;
  readonly token: FencingToken;
  readonly recovery: LedgerRecovery;
  /** Closes the journal and unlocks the directory. */
  close(): void;
}

export interface AgentStateOptions {
  readonly node: string;
  readonly maxLedgerEntries?: number;
  /** Hears of state the agent could not read or write (it goes on without it). */
  readonly warn: (message: string) => void;
}

/** Locks `dir` (creating it) and reads what a previous agent process left there. */
export function openAgentState(dir: string, opts: AgentStateOptions): AgentState {
  const unlock = openStateDir(dir);
  let opened: ActionLedger | undefined;
  try {
    const { ledger, recovery } = ActionLedger.open(join(dir, LEDGER_FILE), {
      node: opts.node,
      maxEntries: opts.maxLedgerEntries,
      onWriteError: (err) => opts.warn(`action ledger: ${err.message}`),
    });
    opened = ledger;
    const meta = new VMMetaStore(join(dir, VM_META_FILE), (problem) => opts.warn(`VM metadata dropped: ${problem}`));
    const token = new FencingToken(join(dir, TOKEN_FILE));
    return {
      dir,
      ledger,
      meta,
      token,
      recovery,
      close() {
        ledger.close();
        unlock();
      },
    };
  } catch (err) {
    opened?.close();
    unlock();
    throw err;
  }
}

export function memoryAgentState(node: string, maxLedgerEntries?: number): AgentState {
  return {
    ledger: new ActionLedger({ node, maxEntries: maxLedgerEntries }),
    meta: new VMMetaStore(),
    token: new FencingToken(),
    recovery: { interrupted: [], badLines: 0 },
    close() {},
  };
}
