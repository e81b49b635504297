import { ErrorCode, InvalidInputError, jsonPath, type InputIssue } from '@entropy/protocol';
import type { Node } from '../model/configuration.ts';
import { costModelWith, type CostModel } from '../model/cost-model.ts';
import { scenarioSchema } from './scenario-schema.ts';

/** A workload for the simulator, with profiles expanded: every vjob lists its VMs and phases. */
export interface Scenario {
  readonly name: string;
  readonly description: string;
  readonly controlPeriodMs: number;
  readonly costModel: CostModel;
  readonly nodes: readonly Node[];
  readonly vjobs: readonly ScenarioVJob[];
}

export interface ScenarioVJob {
  readonly id: string;
  readonly submittedAt: number;
  readonly priority: number;
  /** Each VM's peak demand. */
  readonly vms: readonly { readonly id: string; readonly cpu: number; readonly mem: number }[];
  /** Work to do, in order; `cpu[i]` is VM i's use during the phase. */
  readonly phases: readonly { readonly durationMs: number; readonly cpu: readonly number[] }[];
}

const MAX_ISSUES = 20;

/** Validates a scenario; throws InvalidInputError listing every problem with its JSON path. */
export function parseScenario(json: unknown, file = 'scenario'): Scenario {
  const shaped = scenarioSchema.safeParse(json);
  if (!shaped.success) {
    const issues = shaped.error.issues.map((i) => ({ path: jsonPath(i.path), reason: i.message }));
    throw new InvalidInputError(ErrorCode.InvalidInstance, file, issues.slice(0, MAX_ISSUES));
  }
  const data = shaped.data;
  const issues: InputIssue[] = [];
  const report = (path: PropertyKey[], reason: string) => issues.push({ path: jsonPath(path), reason });

  const nodes: Node[] = [];
  const nodeIds = new Set<string>();
  data.nodes.forEach((g, i) => {
    const width = String(g.count).length;
    for (let k = 1; k <= g.count; k++) {
      const id = g.count === 1 ? g.id : `${g.id}${String(k).padStart(Math.max(2, width), '0')}`;
      if (nodeIds.has(id)) return report(['nodes', i, 'id'], `duplicate node id '${id}'`);
      nodeIds.add(id);
      nodes.push({ id, capacity: { cpu: g.cpu, mem: g.mem }, state: 'online' });
    }
  });

  const vjobs: ScenarioVJob[] = [];
  const vjobIds = new Set<string>();
  data.vjobs.forEach((j, i) => {
    const at = ['vjobs', i];
    if (vjobIds.has(j.id)) return report([...at, 'id'], `duplicate vjob id '${j.id}'`);
    vjobIds.add(j.id);
    let source: { vms: typeof j.vms; phases: typeof j.phases; path: PropertyKey[] };
    if (j.profile !== undefined) {
      if (j.vms !== undefined || j.phases !== undefined)
        return report(at, "give either 'profile' or 'vms' and 'phases', not both");
      const profile = Object.hasOwn(data.profiles, j.profile) ? data.profiles[j.profile] : undefined;
      if (!profile)
        return report(
          [...at, 'profile'],
          `unknown profile '${j.profile}' (profiles: ${Object.keys(data.profiles).join(', ') || 'none'})`,
        );
      source = { vms: profile.vms, phases: profile.phases, path: ['profiles', j.profile] };
    } else {
      if (j.vms === undefined || j.phases === undefined)
        return report(at, "needs a 'profile', or both 'vms' and 'phases'");
      source = { vms: j.vms, phases: j.phases, path: at };
    }
    const { count, cpu, mem } = source.vms!;
    const phases = source.phases!.map((p, k) => {
      const perVm = typeof p.cpu === 'number' ? new Array<number>(count).fill(p.cpu) : p.cpu;
      if (perVm.length !== count)
        report([...source.path, 'phases', k, 'cpu'], `lists ${perVm.length} values for ${count} VMs`);
      const over = perVm.findIndex((c) => c > cpu);
      if (over >= 0)
        report(
          [...source.path, 'phases', k, 'cpu', ...(typeof p.cpu === 'number' ? [] : [over])],
          `use ${perVm[over]} exceeds the VM's peak demand ${cpu}`,
        );
      return { durationMs: p.durationMs * j.timeScale, cpu: perVm };
    });
    const vms = Array.from({ length: count }, (_, k) => ({ id: `${j.id}-vm${k + 1}`, cpu, mem }));
    vjobs.push({ id: j.id, submittedAt: j.submittedAt, priority: j.priority, vms, phases });
  });
  if (issues.length > 0) {
    // A profile's mistake is found once per vjob that uses it: report it once.
    const unique = [...new Map(issues.map((x) => [`${x.path}\n${x.reason}`, x])).values()];
    throw new InvalidInputError(ErrorCode.InvalidInstance, file, unique.slice(0, MAX_ISSUES));
  }
  return {
    name: data.name ?? baseName(file).replace(/\.json(\.gz)?$/, ''),
    description: data.description ?? '',
    controlPeriodMs: data.controlPeriodMs,
    costModel: costModelWith(data.costModel),
    nodes,
    vjobs,
  };
}

/** The file name without its directories (no node:path: the engine does no I/O and runs anywhere). */
const baseName = (file: string) => file.slice(file.lastIndexOf('/') + 1);
