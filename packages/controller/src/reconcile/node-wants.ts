import type { Configuration, Constraint, Node, NodeState, Resources } from '@entropy/engine';
import type { NodeView } from '../monitor/index.ts';
import { DEFAULT_RETRY_POLICY, type RetryPolicy } from './failure-book.ts';

/**
 * The node states an operator wants (`entropy node boot|shutdown`), as the reconcile turn reads
 * them: an `online` or `offline` constraint for each node that is not in its wanted state, which
 * the engine turns into a boot, or an evacuation and a shutdown (BtrPlace's Online and Offline).
 */
export interface NodeWants {
  readonly wanted: Readonly<Record<string, NodeState>>;
  /** Nodes a plan powered off, with their capacity then: planned as offline when no agent reports them (after a controller restart). */
  readonly poweredOff?: Readonly<Record<string, Resources>>;
  /** Nodes an operator drained (`entropy node drain`): kept empty of running VMs. */
  readonly drained?: readonly string[];
  readonly failures?: NodeFailureBook;
  /** Why this controller cannot take a node to a state (no boot command), or undefined when it can. */
  readonly unsupported?: (state: NodeState) => string | undefined;
}

/** A node power action that failed: the node's wanted state waits for a backoff, or for the operator's next request. */
export interface NodeFailure {
  readonly node: string;
  readonly to: NodeState;
  readonly attempts: number;
  readonly final: boolean;
  readonly lastError: string;
  readonly retryAt: number;
}
export type NodeFailureBook = ReadonlyMap<string, NodeFailure>;

export interface NodeWantsThisTurn {
  /** The configuration with the powered-off nodes it lacks, offline. */
  readonly configuration: Configuration;
  readonly constraints: readonly Constraint[];
  /** Why a wanted state is not planned this turn. */
  readonly reasons: readonly string[];
  /** The failures that still apply. */
  readonly failures: NodeFailureBook;
  /** When a backoff ends, if one does. */
  readonly retryAt?: number;
}

/**
 * `unplannedOn`: per node, a VM it holds that the turn leaves out of planning (busy, backing off,
 * excluded by the monitor): the engine would not move it, so the node cannot be shut down yet.
 */
export function nodeWantsThisTurn(
  configuration: Configuration,
  nodes: readonly NodeView[],
  unplannedOn: ReadonlyMap<string, string>,
  wants: NodeWants,
  now: number,
  retry: RetryPolicy = DEFAULT_RETRY_POLICY,
): NodeWantsThisTurn {
  const known = new Set(configuration.nodes.map((n) => n.id));
  const added: Node[] = [];
  for (const [id, capacity] of Object.entries(wants.poweredOff ?? {}))
    if (!known.has(id)) added.push({ id, capacity, state: 'offline' });
  const withOff = added.length > 0 ? { ...configuration, nodes: [...configuration.nodes, ...added] } : configuration;
  const stateOf = new Map(withOff.nodes.map((n) => [n.id, n.state]));
  const pending = new Set(nodes.filter((n) => n.liveness === 'pending').map((n) => n.id));
  const constraints: Constraint[] = [];
  const reasons: string[] = [];
  const failures = new Map(wants.failures ?? []);
  let retryAt: number | undefined;
  for (const [node, want] of Object.entries(wants.wanted)) {
    const is = stateOf.get(node);
    const failure = failures.get(node);
    // A failure no longer applies once the node is where it was taken, or is wanted elsewhere.
    if (failure && (failure.to !== want || is === want)) failures.delete(node);
    if (is === undefined) {
      reasons.push(`node ${node} is wanted ${want}, but no agent reports it and no plan powered it off`);
      continue;
    }
    if (is === want) continue;
    // Said hello, no status yet: booting (or coming back), not a node to plan on yet.
    if (pending.has(node)) continue;
    if (want === 'offline' && unplannedOn.has(node)) {
      reasons.push(
        `node ${node} waits to go offline: VM ${unplannedOn.get(node)} on it is left out of planning this turn`,
      );
      continue;
    }
    const why = wants.unsupported?.(want);
    if (why !== undefined) {
      reasons.push(`node ${node} is wanted ${want}: ${why}`);
      continue;
    }
    const f = failures.get(node);
    if (f && (f.final || f.attempts >= retry.maxAttempts)) {
      reasons.push(
        `node ${node} stays ${is}: ${want === 'online' ? 'boot' : 'shutdown'} given up after ${f.attempts} failure(s): ${f.lastError}`,
      );
      continue;
    }
    if (f && now < f.retryAt) {
      reasons.push(
        `node ${node} stays ${is}: ${f.lastError}; retry ${f.attempts + 1}/${retry.maxAttempts} after ${Math.ceil((f.retryAt - now) / 1000)} s`,
      );
      retryAt = Math.min(retryAt ?? Infinity, f.retryAt);
      continue;
    }
    constraints.push(want === 'online' ? { type: 'online', node } : { type: 'offline', node });
  }
  return { configuration: withOff, constraints, reasons, failures, ...(retryAt !== undefined ? { retryAt } : {}) };
}

/** The book after a plan whose node actions failed: one more attempt each, backed off as vjob transitions are. */
export function recordNodeFailures(
  book: NodeFailureBook,
  failed: readonly { readonly node: string; readonly to: NodeState; readonly final: boolean; readonly error: string }[],
  now: number,
  retry: RetryPolicy = DEFAULT_RETRY_POLICY,
): NodeFailureBook {
  if (failed.length === 0) return book;
  const next = new Map(book);
  for (const f of failed) {
    const before = book.get(f.node);
    const attempts = (before?.to === f.to ? before.attempts : 0) + 1;
    const backoff = Math.min(retry.maxBackoffMs, retry.baseBackoffMs * 2 ** (attempts - 1));
    next.set(f.node, { node: f.node, to: f.to, attempts, final: f.final, lastError: f.error, retryAt: now + backoff });
  }
  return next;
}
