import type { ActionType } from './lifecycle.ts';

/** Duration of one action kind: `base + perMiB * mem`, in milliseconds. */
export interface LinearCost {
  readonly base: number;
  readonly perMiB: number;
}

/**
 * How long actions take. Remote resume is split from local resume because it copies the image:
 * about twice the cost. Defaults reflect a 1 GiB/s migration link and a few seconds of boot.
 */
export interface CostModel {
  readonly run: LinearCost;
  readonly stop: LinearCost;
  readonly suspend: LinearCost;
  readonly resumeLocal: LinearCost;
  readonly resumeRemote: LinearCost;
  readonly migrate: LinearCost;
  readonly pause: LinearCost;
  readonly unpause: LinearCost;
  /** Booting and shutting down a node (`perMiB` is unused: a node has no memory image to move). */
  readonly bootNode: LinearCost;
  readonly shutdownNode: LinearCost;
  /**
   * Lines of some nodes that differ from the cluster's (a slower disk, a busier link), per node
   * then per kind; an action takes its executing node's line when there is one. A calibration
   * writes them (model/calibrate.ts); absent in most models.
   */
  readonly nodes?: Readonly<Record<string, NodeCosts>>;
}

export type CostKind = Exclude<keyof CostModel, 'nodes'>;
/** One node's own lines, for the kinds where it differs from the cluster. */
export type NodeCosts = { readonly [K in CostKind]?: LinearCost };
export const COST_KINDS: readonly CostKind[] = [
  'run',
  'stop',
  'suspend',
  'resumeLocal',
  'resumeRemote',
  'migrate',
  'pause',
  'unpause',
  'bootNode',
  'shutdownNode',
];

export const DEFAULT_COST_MODEL: CostModel = {
  run: { base: 5000, perMiB: 0 },
  stop: { base: 1000, perMiB: 0 },
  suspend: { base: 0, perMiB: 1 },
  resumeLocal: { base: 0, perMiB: 1 },
  resumeRemote: { base: 0, perMiB: 2 },
  migrate: { base: 0, perMiB: 1 },
  pause: { base: 10, perMiB: 0 },
  unpause: { base: 10, perMiB: 0 },
  bootNode: { base: 120_000, perMiB: 0 },
  shutdownNode: { base: 30_000, perMiB: 0 },
};

type KindOverrides = { readonly [K in CostKind]?: Partial<LinearCost> };

/**
 * Changes to a cost model, as an instance file's `costModel` and a cost-model file write them: a
 * part of any kind's line, and per node a part of any kind's line (the missing part is the
 * cluster's, after the overrides).
 */
export type CostModelOverrides = KindOverrides & { readonly nodes?: Readonly<Record<string, KindOverrides>> };

/** `base` (the defaults unless given) with the overrides applied. */
export function costModelWith(overrides: CostModelOverrides = {}, base: CostModel = DEFAULT_COST_MODEL): CostModel {
  const out: Record<string, unknown> = {};
  for (const kind of COST_KINDS) out[kind] = { ...base[kind], ...overrides[kind] };
  const nodes: Record<string, Record<string, LinearCost>> = {};
  for (const [node, own] of Object.entries(base.nodes ?? {})) nodes[node] = { ...own };
  for (const [node, own] of Object.entries(overrides.nodes ?? {})) {
    const lines = (nodes[node] ??= {});
    for (const kind of COST_KINDS) {
      const part = own[kind];
      if (part) lines[kind] = { ...(lines[kind] ?? (out[kind] as LinearCost)), ...part };
    }
  }
  if (Object.keys(nodes).length > 0) out.nodes = nodes;
  return out as unknown as CostModel;
}

/** A cost model as overrides of nothing: every kind's line and every node's, the shape of a cost-model file. */
export function costModelOverrides(model: CostModel): CostModelOverrides {
  const out: Record<string, unknown> = {};
  for (const kind of COST_KINDS) out[kind] = { ...model[kind] };
  if (model.nodes && Object.keys(model.nodes).length > 0) out.nodes = structuredClone(model.nodes);
  return out as CostModelOverrides;
}

/** The cost kind that prices an action; resume depends on whether the image changes node. */
export function costKindOf(type: ActionType, remote: boolean): CostKind {
  if (type === 'resume') return remote ? 'resumeRemote' : 'resumeLocal';
  return type;
}

/** How long an action of `kind` on `memMiB` takes; on `node`, by that node's own line when it has one. */
export function durationOf(model: CostModel, kind: CostKind, memMiB: number, node?: string): number {
  const c = (node !== undefined ? model.nodes?.[node]?.[kind] : undefined) ?? model[kind];
  return Math.max(0, Math.round(c.base + c.perMiB * memMiB));
}
