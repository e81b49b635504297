/**
 * One BtrPlace workload measurement in its own process (peak memory is its own): read or generate
 * the instance, import it, plan `repeat` times, verify with every constraint, print JSON on stdout.
 */
import {
  contextSwitch,
  generateWorkload,
  type Plan,
  readBtrPlaceInstance,
  verifyPlan,
  type WorkloadOptions,
} from '@entropy/engine';
import { readJsonFile } from '../../controller/src/command-io/io.ts';
import type { BtrPlaceMeasurement, BtrPlaceTask } from './btrplace.ts';
import { median } from './format.ts';

function measure(task: BtrPlaceTask): BtrPlaceMeasurement {
  const baseRssMiB = process.memoryUsage().rss / 1024 / 1024;
  let started = performance.now();
  const json = task.file ? readJsonFile(task.file) : generateWorkload(task.generate as WorkloadOptions);
  const readMs = performance.now() - started;
  started = performance.now();
  const i = readBtrPlaceInstance(json, task.file ?? task.label);
  const importMs = performance.now() - started;
  const solveMs: number[] = [];
  let plan: Plan | undefined;
  for (let r = 0; r < task.repeat; r++) {
    started = performance.now();
    plan = contextSwitch(i.configuration, i.decision, i.costModel, {
      constraints: i.constraints,
      durations: i.durations,
      ...(i.network ? { network: i.network } : {}),
      timeLimitMs: task.timeLimitMs,
    });
    solveMs.push(performance.now() - started);
  }
  const base = {
    ...task,
    nodes: i.configuration.nodes.length,
    vms: i.configuration.vms.length,
    constraints: i.constraints.length,
    readMs,
    importMs,
    solveMs: median(solveMs),
    baseRssMiB,
  };
  if (!plan!.feasible)
    return { ...base, feasible: false, reason: plan!.reason, peakRssMiB: process.resourceUsage().maxRSS / 1024 };
  started = performance.now();
  const verdict = verifyPlan(
    i.configuration,
    i.decision,
    plan!,
    i.constraints,
    i.network ? { network: i.network } : {},
  );
  const verifyMs = performance.now() - started;
  const actions: Record<string, number> = {};
  for (const a of [...plan!.actions, ...(plan!.nodeActions ?? [])]) actions[a.type] = (actions[a.type] ?? 0) + 1;
  return {
    ...base,
    feasible: true,
    actions,
    mttr: plan!.mttr! / 1000,
    makespan: plan!.makespan / 1000,
    verified: verdict.ok ? 'yes' : `NO: ${verdict.violation.message}`,
    verifyMs,
    peakRssMiB: process.resourceUsage().maxRSS / 1024,
  };
}

process.stdout.write(`${JSON.stringify(measure(JSON.parse(process.argv[2] ?? '{}') as BtrPlaceTask))}\n`);
