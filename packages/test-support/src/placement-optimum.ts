import {
  compileProblem,
  contextSwitch,
  type FeasiblePlan,
  fixedPlacementCost,
  type Instance,
  type Problem,
  verifyPlan,
  vmCostAt,
} from '@entropy/engine';
import { generateInstance } from './generate-instance.ts';
import type { HighsSolver } from './highs.ts';

/**
 * The exact minimum of the placement cost (engine/placement-cost.ts) for an instance without
 * constraints: a MILP solved by HiGHS, one binary per VM that must run and node it fits on,
 * capacity in every dimension. Undefined when no viable target exists.
 */
export function optimalPlacementCost(
  highs: HighsSolver,
  instance: Pick<Instance, 'configuration' | 'decision' | 'costModel'>,
): number | undefined {
  const p = compileProblem(instance.configuration, instance.decision, instance.costModel);
  const D = p.dims.length;
  const runs: number[] = [];
  for (let v = 0; v < p.vmCount; v++) if (mustRun(p, v)) runs.push(v);
  const fixed = fixedPlacementCost(p);
  if (runs.length === 0) return fixed;
  const nodes: number[] = [];
  for (let n = 0; n < p.nodeCount; n++) if (p.usable[n]) nodes.push(n);
  const x = (v: number, n: number) => `x_${v}_${n}`;
  const candidates = runs.map((v) =>
    nodes.filter((n) => {
      for (let d = 0; d < D; d++) if (p.demand[v * D + d]! > p.capacity[n * D + d]! + 1e-9) return false;
      return true;
    }),
  );
  if (candidates.some((c) => c.length === 0)) return undefined;
  const rows: string[] = [];
  runs.forEach((v, i) => rows.push(`a_${v}: ${candidates[i]!.map((n) => x(v, n)).join(' + ')} = 1`));
  for (const n of nodes) {
    for (let d = 0; d < D; d++) {
      const terms = runs.flatMap((v, i) =>
        candidates[i]!.includes(n) && p.demand[v * D + d]! > 0 ? [`${p.demand[v * D + d]} ${x(v, n)}`] : [],
      );
      if (terms.length > 0) rows.push(`c_${n}_${d}: ${terms.join(' + ')} <= ${p.capacity[n * D + d]}`);
    }
  }
  const obj = runs.flatMap((v, i) => candidates[i]!.map((n) => `${vmCostAt(p, v, n)} ${x(v, n)}`));
  const binaries = runs.flatMap((v, i) => candidates[i]!.map((n) => x(v, n)));
  const lp = [
    'Minimize',
    ` obj: ${obj.join(' + ')}`,
    'Subject To',
    ...rows.map((r) => ` ${r}`),
    'Binaries',
    ` ${binaries.join(' ')}`,
    'End',
  ].join('\n');
  const solution = highs.solve(lp, { output_flag: false, mip_rel_gap: 0, mip_abs_gap: 0 });
  if (solution.Status === 'Infeasible') return undefined;
  if (solution.Status !== 'Optimal') throw new Error(`HiGHS: ${solution.Status}`);
  return fixed + Math.round(solution.ObjectiveValue);
}

function mustRun(p: Problem, v: number): boolean {
  return p.target[v] === 1;
}

/**
 * Small instances where placement decides the cost: most nodes nearly full, some overloaded, a third
 * of the vjobs changing state (sleeping ones resumed, waiting ones started, running ones suspended).
 */
export function tightInstance(seed: number): Instance {
  const nodes = 3 + (seed % 6);
  const vms = Math.min(30, 6 + ((seed * 7) % 25));
  return generateInstance({
    seed,
    nodes,
    vms,
    vjobSize: { min: 1, max: 4 },
    load: 0.95,
    changeFraction: 0.5,
    overloadedNodes: Math.min(3, nodes - 1),
    maxTargetLoad: 0.98,
    nodeClasses: [
      { cpu: 8, mem: 8 * 1024, weight: 1 },
      { cpu: 16, mem: 16 * 1024, weight: 1 },
    ],
  });
}

/** One tight instance: the engine's plan against the exact minimum of the placement cost. */
export interface PlacementRecord {
  readonly seed: number;
  readonly optimum: number;
  readonly firstCost: number;
  readonly cost: number;
  readonly lowerBound: number;
  readonly solveMs: number;
  /** The verifier's complaint, if any. */
  readonly violation?: string;
}

export interface PlacementSummary {
  readonly records: readonly PlacementRecord[];
  /** Seeds whose instance has no viable target (the engine must say infeasible there too). */
  readonly infeasible: readonly number[];
  /** Seeds where the engine and the MILP disagree on feasibility. */
  readonly disagreements: readonly number[];
  readonly optimal: number;
  readonly firstOptimal: number;
  readonly meanRatio: number;
  readonly worstRatio: number;
  readonly maxSolveMs: number;
}

/** Plans tight instances `from..to` and compares each placement cost with the exact minimum. */
export function measurePlacement(highs: HighsSolver, from: number, to: number): PlacementSummary {
  const records: PlacementRecord[] = [];
  const infeasible: number[] = [];
  const disagreements: number[] = [];
  for (let seed = from; seed <= to; seed++) {
    const instance = tightInstance(seed);
    const optimum = optimalPlacementCost(highs, instance);
    const plan = contextSwitch(instance.configuration, instance.decision, instance.costModel);
    if (optimum === undefined || !plan.feasible) {
      if ((optimum === undefined) === !plan.feasible) infeasible.push(seed);
      else disagreements.push(seed);
      continue;
    }
    const verdict = verifyPlan(instance.configuration, instance.decision, plan);
    const st = (plan as FeasiblePlan).stats!;
    records.push({
      seed,
      optimum,
      firstCost: st.firstCost,
      cost: st.finalCost,
      lowerBound: st.lowerBound ?? 0,
      solveMs: plan.solveMs,
      ...(verdict.ok ? {} : { violation: `${verdict.violation.kind}: ${verdict.violation.message}` }),
    });
  }
  const ratio = (x: number, r: PlacementRecord) => (r.optimum > 0 ? x / r.optimum : x > 0 ? Infinity : 1);
  const ratios = records.map((r) => ratio(r.cost, r));
  return {
    records,
    infeasible,
    disagreements,
    optimal: records.filter((r) => r.cost === r.optimum).length,
    firstOptimal: records.filter((r) => r.firstCost === r.optimum).length,
    meanRatio: ratios.reduce((a, b) => a + b, 0) / Math.max(1, ratios.length),
    worstRatio: Math.max(1, ...ratios),
    maxSolveMs: Math.max(0, ...records.map((r) => r.solveMs)),
  };
}
