import { DEFAULT_COST_MODEL } from '@entropy/engine';
import type { MonitorView } from '../../src/monitor/index.ts';
import type { ReconcileInput } from '../../src/reconcile/reconcile.ts';

/** A turn's input on a settled cluster: every node reported, nothing failed or busy, the default cost model. */
export function reconcileInput(view: MonitorView, over: Partial<ReconcileInput> = {}): ReconcileInput {
  return {
    view,
    now: 1000,
    knownNodes: [],
    startedAt: 0,
    statusPeriodMs: 500,
    silenceMs: 1500,
    vjobs: [],
    failures: new Map(),
    busy: [],
    costModel: DEFAULT_COST_MODEL,
    intervalMs: 5000,
    ...over,
  };
}
