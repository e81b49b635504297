import { loadHighs } from '../src/testing/exact-optimum.ts';
import { optimalPlacementCost, tightInstance } from '../src/testing/placement-optimum.ts';
import { contextSwitch } from '../src/engine/context-switch.ts';
const highs = await loadHighs();
let n = 0, opt = 0, sumRatio = 0, worst = 0, infeasible = 0, firstOpt = 0, proven = 0, maxMs = 0, maxNodes = 0;
const N = Number(process.argv[2] ?? 100);
const worstSeeds: [number, number][] = [];
for (let seed = 1; seed <= N; seed++) {
  const inst = tightInstance(seed);
  const t0 = performance.now();
  const plan = contextSwitch(inst.configuration, inst.decision, inst.costModel);
  maxMs = Math.max(maxMs, performance.now() - t0);
  const best = optimalPlacementCost(highs, inst);
  if (!plan.feasible || best === undefined) { infeasible++; continue; }
  const cost = plan.stats!.finalCost;
  n++;
  const r = best > 0 ? cost / best : (cost > 0 ? 2 : 1);
  if (cost <= best + 1e-6) opt++;
  if (plan.stats!.firstCost <= best + 1e-6) firstOpt++;
  if (plan.stats!.optimal) proven++;
  if (cost < best - 1e-6) console.log('BELOW OPTIMUM?!', seed, cost, best);
  maxNodes = Math.max(maxNodes, plan.stats!.nodes);
  sumRatio += r; worst = Math.max(worst, r);
  if (r > 1) worstSeeds.push([seed, r]);
}
console.log({ n, infeasible, optimal: opt, firstOptimal: firstOpt, provenOptimal: proven, meanRatio: sumRatio / n, worst, maxMs: Math.round(maxMs), maxNodes, worstSeeds: worstSeeds.slice(0, 10) });
