/**
 * One engine measurement in its own process, so that the peak memory it reports belongs to one
 * instance: generate, plan `repeat` times, verify, then print an EngineMeasurement as JSON on stdout.
 */
import { contextSwitch, type Plan, verifyPlan } from '@entropy/engine';
import { generateInstance } from '@entropy/test-support/generate-instance.ts';
import type { EngineMeasurement, EngineTask, Verification } from './engine-suite.ts';
import { median } from './format.ts';

async function measure(task: EngineTask): Promise<EngineMeasurement> {
  const baseRssMiB = process.memoryUsage().rss / 1024 / 1024;
  const generated = performance.now();
  const g = generateInstance({
    seed: task.seed,
    nodes: task.nodes,
    vms: task.vms,
    load: task.load,
    nodeClasses: task.nodeClasses,
  });
  const generateMs = performance.now() - generated;

  const solveMs: number[] = [];
  const wallMs: number[] = [];
  let plan: Plan | undefined;
  for (let r = 0; r < task.repeat; r++) {
    const started = performance.now();
    plan = contextSwitch(g.configuration, g.decision, g.costModel, { timeLimitMs: task.timeLimitMs });
    wallMs.push(performance.now() - started);
    solveMs.push(plan.solveMs);
  }

  let verification: Verification = { status: 'n/a', detail: 'plan infeasible' };
  if (plan!.feasible) {
    const started = performance.now();
    const verdict = verifyPlan(g.configuration, g.decision, plan!);
    const ms = performance.now() - started;
    verification = verdict.ok
      ? { status: 'ok', ms }
      : { status: 'failed', ms, detail: `${verdict.violation.kind}: ${verdict.violation.message}` };
  }

  const actions: Record<string, number> = {};
  if (plan!.feasible) for (const a of plan!.actions) actions[a.type] = (actions[a.type] ?? 0) + 1;
  return {
    ...task,
    sourceLoad: g.stats.sourceLoad,
    targetLoad: g.stats.targetLoad,
    overloadedNodes: g.stats.overloadedNodes.length,
    changedVjobs: Object.keys(g.decision).length,
    generateMs,
    solveMs: median(solveMs),
    wallMs: median(wallMs),
    // maxRSS is in KiB: the peak of this process, instance and plan included.
    peakRssMiB: process.resourceUsage().maxRSS / 1024,
    baseRssMiB,
    feasible: plan!.feasible,
    ...(plan!.feasible
      ? {
          actions,
          steps: plan!.steps,
          makespan: plan!.makespan,
          sumCompletion: plan!.sumCompletion,
          ...(plan!.stats ? { stats: plan!.stats } : {}),
        }
      : { reason: plan!.reason }),
    verification,
  };
}

const task = JSON.parse(process.argv[2] ?? '{}') as EngineTask;
process.stdout.write(`${JSON.stringify(await measure(task))}\n`);
