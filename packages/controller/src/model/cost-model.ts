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
}

export type CostKind = keyof CostModel;
export const COST_KINDS: readonly CostKind[] = [
  'run', 'stop', 'suspend', 'resumeLocal', 'resumeRemote', 'migrate', 'pause', 'unpause', 'bootNode', 'shutdownNode',
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

export type CostModelOverrides = { readonly [K in CostKind]?: Partial<LinearCost> };

/** The overrides over `base` (the defaults when absent). */
export function costModelWith(overrides: CostModelOverrides = {}, base: CostModel = DEFAULT_COST_MODEL): CostModel {
  const out: Record<string, LinearCost> = {};
  for (const kind of COST_KINDS) out[kind] = { ...base[kind], ...overrides[kind] };
  return out as unknown as CostModel;
}

/** The cost kind that prices an action; resume depends on whether the image changes node. */
export function costKindOf(type: ActionType, remote: boolean): CostKind {
  if (type === 'resume') return remote ? 'resumeRemote' : 'resumeLocal';
  return type;
}

export function durationOf(model: CostModel, kind: CostKind, memMiB: number): number {
  const c = model[kind];
  return Math.max(0, Math.round(c.base + c.perMiB * memMiB));
}
