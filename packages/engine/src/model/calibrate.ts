import {
  COST_KINDS,
  type CostKind,
  type CostModel,
  DEFAULT_COST_MODEL,
  durationOf,
  type LinearCost,
  type NodeCosts,
} from './cost-model.ts';
import { at, type Line, median, type Point, robustLine, rSquared, splitOutliers } from './robust-line.ts';

/** One measured action: its cost kind, its VM's memory (MiB), how long it took, and the node that ran it. */
export interface CostSample {
  readonly kind: CostKind;
  readonly mem: number;
  readonly durationMs: number;
  readonly node?: string;
}

export interface CalibrationOptions {
  /** A residual beyond this many scaled MADs of the robust line is an outlier (default 3). */
  readonly outlierMads?: number;
  /** A node needs this many samples of a kind to get its own line (default 8). */
  readonly minNodeSamples?: number;
  /**
   * A node gets its own line when its fit, at the median memory of its samples, predicts a
   * duration more than this share away from the cluster's line (default 0.2: 20%).
   */
  readonly nodeDeviation?: number;
}

export const DEFAULT_CALIBRATION_OPTIONS: Required<CalibrationOptions> = {
  outlierMads: 3,
  minNodeSamples: 8,
  nodeDeviation: 0.2,
};

/** How well the base model and the fitted one estimate one kind's samples. */
export interface KindCalibration {
  readonly kind: CostKind;
  readonly samples: number;
  /** Samples left out of the fit as outliers (their errors still count below). */
  readonly outliers: number;
  /**
   * `fit`: a line through samples of several memory sizes. `scaled`: every sample had one memory
   * size, so only the duration at that size is known: the base model's line is scaled to it.
   */
  readonly method: 'fit' | 'scaled';
  readonly before: LinearCost;
  readonly after: LinearCost;
  /** On the samples the cluster line was fitted to, outliers left out; absent when their durations do not vary. */
  readonly r2?: number;
  /** Median absolute percentage error over every sample of the kind (as a share: 0.1 is 10%), before and after. */
  readonly mdapeBefore: number;
  readonly mdapeAfter: number;
  /** Median absolute error in ms, before and after. */
  readonly medianErrorBeforeMs: number;
  readonly medianErrorAfterMs: number;
  /** Nodes given their own line for this kind. */
  readonly nodes: readonly { readonly node: string; readonly samples: number; readonly line: LinearCost }[];
}

export interface Calibration {
  readonly model: CostModel;
  /** One entry per kind that had samples, in COST_KINDS order. */
  readonly kinds: readonly KindCalibration[];
}

/**
 * Fits `duration = base + perMiB x mem` per cost kind to measured samples, on top of `base` (kinds
 * without samples keep its lines). Each line is robust (robust-line.ts: Theil-Sen, outliers beyond
 * `outlierMads` MADs dropped, then least squares) and never negative. A node whose own fit differs
 * from the cluster's by more than `nodeDeviation` with at least `minNodeSamples` samples gets its own
 * line, and the cluster line is fitted again without it; a node with enough samples that does not
 * differ loses an own line the base model gave it.
 */
export function fitCostModel(
  samples: readonly CostSample[],
  base: CostModel = DEFAULT_COST_MODEL,
  options: CalibrationOptions = {},
): Calibration {
  const o = { ...DEFAULT_CALIBRATION_OPTIONS, ...options };
  const byKind = new Map<CostKind, CostSample[]>();
  for (const s of samples) {
    const list = byKind.get(s.kind);
    if (list) list.push(s);
    else byKind.set(s.kind, [s]);
  }
  const lines: Partial<Record<CostKind, LinearCost>> = {};
  const nodes: Record<string, Partial<Record<CostKind, LinearCost>>> = {};
  for (const [node, own] of Object.entries(base.nodes ?? {})) nodes[node] = { ...own };
  const fits: { kind: CostKind; fit: KindFit }[] = [];
  for (const kind of COST_KINDS) {
    const list = byKind.get(kind);
    if (!list) continue;
    const fit = fitKind(list, base[kind], o);
    lines[kind] = fit.line;
    for (const node of fit.sameAsCluster) delete nodes[node]?.[kind];
    for (const n of fit.nodes) (nodes[n.node] ??= {})[kind] = n.line;
    fits.push({ kind, fit });
  }
  const ownLines = Object.entries(nodes).filter(([, own]) => Object.keys(own).length > 0);
  const model = {
    ...Object.fromEntries(COST_KINDS.map((k) => [k, lines[k] ?? base[k]])),
    ...(ownLines.length > 0 ? { nodes: Object.fromEntries(ownLines) as Record<string, NodeCosts> } : {}),
  } as unknown as CostModel;
  const kinds = fits.map(({ kind, fit }) => {
    const list = byKind.get(kind)!;
    const before = errors(list, (s) => durationOf(base, kind, s.mem, s.node));
    const after = errors(list, (s) => durationOf(model, kind, s.mem, s.node));
    return {
      kind,
      samples: list.length,
      outliers: fit.outliers,
      method: fit.method,
      before: base[kind],
      after: fit.line,
      ...(fit.r2 !== undefined ? { r2: fit.r2 } : {}),
      mdapeBefore: before.mdape,
      mdapeAfter: after.mdape,
      medianErrorBeforeMs: before.medianMs,
      medianErrorAfterMs: after.medianMs,
      nodes: fit.nodes,
    };
  });
  return { model, kinds };
}

interface KindFit {
  readonly line: LinearCost;
  readonly method: 'fit' | 'scaled';
  readonly outliers: number;
  readonly r2?: number;
  readonly nodes: { node: string; samples: number; line: LinearCost }[];
  /** Nodes with enough samples whose fit agrees with the cluster's. */
  readonly sameAsCluster: string[];
}

function fitKind(samples: readonly CostSample[], prior: LinearCost, o: Required<CalibrationOptions>): KindFit {
  const all = fitPoints(samples.map(point), prior, o.outlierMads);
  const byNode = new Map<string, CostSample[]>();
  for (const s of samples) if (s.node !== undefined) byNode.set(s.node, [...(byNode.get(s.node) ?? []), s]);
  const own: KindFit['nodes'] = [];
  const sameAsCluster: string[] = [];
  for (const node of [...byNode.keys()].sort()) {
    const list = byNode.get(node)!;
    if (list.length < o.minNodeSamples || byNode.size < 2) continue;
    const fit = fitPoints(list.map(point), all.line, o.outlierMads);
    const m = median(list.map((s) => s.mem));
    const cluster = at(toLine(all.line), m);
    const mine = at(toLine(fit.line), m);
    if (Math.abs(mine - cluster) > o.nodeDeviation * Math.max(cluster, 1))
      own.push({ node, samples: list.length, line: fit.line });
    else sameAsCluster.push(node);
  }
  if (own.length === 0) return { ...all, nodes: own, sameAsCluster };
  // The cluster's line is the other nodes' (and the samples that name no node).
  const apart = new Set(own.map((n) => n.node));
  const rest = samples.filter((s) => s.node === undefined || !apart.has(s.node));
  const cluster = rest.length > 0 ? fitPoints(rest.map(point), prior, o.outlierMads) : all;
  return { ...cluster, outliers: all.outliers, nodes: own, sameAsCluster };
}

const point = (s: CostSample): Point => ({ x: s.mem, y: s.durationMs });
const toLine = (c: LinearCost): Line => ({ base: c.base, slope: c.perMiB });

/** A robust line through the points; when they share one memory size, the prior line scaled to their median duration. */
function fitPoints(
  points: readonly Point[],
  prior: LinearCost,
  mads: number,
): Omit<KindFit, 'nodes' | 'sameAsCluster'> {
  const fit = robustLine(points, mads);
  if (fit) {
    const r2 = rSquared(fit.kept, fit.line);
    return {
      line: { base: fit.line.base, perMiB: fit.line.slope },
      method: 'fit',
      outliers: fit.dropped.length,
      ...(r2 !== undefined ? { r2 } : {}),
    };
  }
  const x = points[0]!.x;
  const flat =
    points.length >= 5
      ? splitOutliers(points, { base: median(points.map((p) => p.y)), slope: 0 }, mads)
      : { kept: points, dropped: [] };
  const y = Math.max(0, median(flat.kept.map((p) => p.y)));
  const was = prior.base + prior.perMiB * x;
  const line = was > 0 ? { base: (prior.base * y) / was, perMiB: (prior.perMiB * y) / was } : { base: y, perMiB: 0 };
  return { line, method: 'scaled', outliers: flat.dropped.length };
}

/** Median absolute percentage error (over samples longer than 0 ms) and median absolute error. */
function errors(
  samples: readonly CostSample[],
  estimate: (s: CostSample) => number,
): { mdape: number; medianMs: number } {
  const abs = samples.map((s) => Math.abs(estimate(s) - s.durationMs));
  const pct = samples.flatMap((s, i) => (s.durationMs > 0 ? [abs[i]! / s.durationMs] : []));
  return { mdape: pct.length > 0 ? median(pct) : 0, medianMs: median(abs) };
}
