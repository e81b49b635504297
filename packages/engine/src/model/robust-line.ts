/**
 * Fitting `y = base + slope * x` to measurements that may hold outliers, with neither coefficient
 * negative. Pure numerics for model/calibrate.ts.
 */

export interface Point {
  readonly x: number;
  readonly y: number;
}

export interface Line {
  readonly base: number;
  readonly slope: number;
}

export const at = (line: Line, x: number) => line.base + line.slope * x;

/** The median; NaN for no values. */
export function median(values: readonly number[]): number {
  if (values.length === 0) return NaN;
  const s = [...values].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** True when the points do not all share one x: a slope can be told apart from the base. */
export function hasSpread(points: readonly Point[]): boolean {
  return points.some((p) => p.x !== points[0]!.x);
}

/** Pairs beyond this many are sampled (deterministically) rather than all taken: n^2 / 2 grows fast. */
const MAX_PAIRS = 50_000;

/**
 * Theil-Sen: the median of the slopes between pairs of points, then the median intercept. It
 * ignores up to about 29% of arbitrary outliers. Undefined when no two points differ in x.
 */
export function theilSen(points: readonly Point[]): Line | undefined {
  const n = points.length;
  const slopes: number[] = [];
  const pair = (i: number, j: number) => {
    const dx = points[j]!.x - points[i]!.x;
    if (dx !== 0) slopes.push((points[j]!.y - points[i]!.y) / dx);
  };
  if ((n * (n - 1)) / 2 <= MAX_PAIRS) {
    for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) pair(i, j);
  } else {
    // A fixed linear congruential sequence: the same samples give the same fit.
    let seed = 0x2545f491;
    const next = () => (seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0) % n;
    for (let k = 0; k < MAX_PAIRS; k++) pair(next(), next());
  }
  if (slopes.length === 0) return undefined;
  const slope = median(slopes);
  return { slope, base: median(points.map((p) => p.y - slope * p.x)) };
}

/**
 * Splits the points into those within `mads` scaled median absolute deviations of the line's
 * residuals and the others. 1.4826 x MAD estimates the standard deviation of normal noise; a
 * residual under 1% of the median |y| (or 1 unit) is never an outlier, so exact data keeps
 * every point.
 */
export function splitOutliers(points: readonly Point[], line: Line, mads = 3): { kept: Point[]; dropped: Point[] } {
  const residuals = points.map((p) => p.y - at(line, p.x));
  const centre = median(residuals);
  const mad = median(residuals.map((r) => Math.abs(r - centre)));
  const limit = Math.max(mads * 1.4826 * mad, 0.01 * median(points.map((p) => Math.abs(p.y))), 1);
  const kept: Point[] = [];
  const dropped: Point[] = [];
  points.forEach((p, i) => (Math.abs(residuals[i]! - centre) <= limit ? kept : dropped).push(p));
  return { kept, dropped };
}

const sse = (points: readonly Point[], line: Line) => points.reduce((s, p) => s + (p.y - at(line, p.x)) ** 2, 0);

/**
 * Least squares with base >= 0 and slope >= 0. The unconstrained optimum when it is feasible;
 * otherwise the optimum lies on a boundary (the problem is convex): the better of the best flat
 * line (slope 0) and the best line through the origin (base 0).
 */
export function nonNegativeLeastSquares(points: readonly Point[]): Line {
  const n = points.length;
  if (n === 0) return { base: 0, slope: 0 };
  let sx = 0;
  let sy = 0;
  let sxx = 0;
  let sxy = 0;
  for (const p of points) {
    sx += p.x;
    sy += p.y;
    sxx += p.x * p.x;
    sxy += p.x * p.y;
  }
  const det = n * sxx - sx * sx;
  if (det > 1e-9 * Math.max(1, n * sxx)) {
    const slope = (n * sxy - sx * sy) / det;
    const base = (sy - slope * sx) / n;
    if (slope >= 0 && base >= 0) return { base, slope };
  }
  const flat: Line = { base: Math.max(0, sy / n), slope: 0 };
  const origin: Line = { base: 0, slope: sxx > 0 ? Math.max(0, sxy / sxx) : 0 };
  return sse(points, origin) < sse(points, flat) ? origin : flat;
}

/** The share of the variance of y the line explains on these points; undefined when y does not vary. */
export function rSquared(points: readonly Point[], line: Line): number | undefined {
  if (points.length === 0) return undefined;
  const mean = points.reduce((s, p) => s + p.y, 0) / points.length;
  const sst = points.reduce((s, p) => s + (p.y - mean) ** 2, 0);
  return sst > 0 ? 1 - sse(points, line) / sst : undefined;
}

export interface RobustFit {
  readonly line: Line;
  readonly kept: readonly Point[];
  readonly dropped: readonly Point[];
}

/** Fewer points than this are fitted as they are: too few to tell an outlier. */
const MIN_POINTS_FOR_OUTLIERS = 5;

/**
 * Theil-Sen to find the line the bulk of the points follow, drop the points beyond `mads` MADs of
 * it, then non-negative least squares on the rest: robust to outliers, and as efficient as least
 * squares on the inliers' noise. Undefined when the points do not differ in x (see hasSpread).
 */
export function robustLine(points: readonly Point[], mads = 3): RobustFit | undefined {
  if (!hasSpread(points)) return undefined;
  const start = points.length >= MIN_POINTS_FOR_OUTLIERS ? theilSen(points) : undefined;
  const { kept, dropped } = start ? splitOutliers(points, start, mads) : { kept: [...points], dropped: [] };
  const fitted = hasSpread(kept) ? kept : points;
  return { line: nonNegativeLeastSquares(fitted), kept: fitted, dropped: fitted === kept ? dropped : [] };
}
