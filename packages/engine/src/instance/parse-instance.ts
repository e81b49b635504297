import { ErrorCode, InvalidInputError, jsonPath, type InputIssue } from '@entropy/protocol';
import type { Constraint } from '../constraints/constraint.ts';
import { resolveConstraints } from './constraint-schema.ts';
import type { Configuration, Decision, Node, VJob, VM } from '../model/configuration.ts';
import { costModelWith, type CostModel } from '../model/cost-model.ts';
import { describeUnreachableVjob, holdsResources, unreachableTargets, type VJobState } from '../model/lifecycle.ts';
import { inputIssues } from './input-issues.ts';
import { instanceSchema, type ParsedInstanceJson } from './instance-schema.ts';

/** What the context switch needs: where things are, where the policy wants them, and what actions cost. */
export interface Instance {
  readonly configuration: Configuration;
  /** Wanted state per vjob; vjobs it does not name go to model/lifecycle.ts defaultTarget (their current state when uniform). */
  readonly decision: Decision;
  readonly costModel: CostModel;
  /** The file's placement constraints, resolved (ids checked, vjob shorthand expanded); parseInstance always sets it. */
  readonly constraints?: readonly Constraint[];
}

const MAX_ISSUES = 20;

/** Parses and validates an instance; throws InvalidInputError listing every problem with its JSON path. */
export function parseInstance(json: unknown, file = 'instance'): Instance {
  const shaped = instanceSchema.safeParse(json);
  if (!shaped.success) {
    throw new InvalidInputError(ErrorCode.InvalidInstance, file, inputIssues(shaped.error).slice(0, MAX_ISSUES));
  }
  const issues: InputIssue[] = [];
  const instance = buildInstance(shaped.data, issues);
  if (issues.length > 0) throw new InvalidInputError(ErrorCode.InvalidInstance, file, issues.slice(0, MAX_ISSUES));
  return instance;
}

function buildInstance(data: ParsedInstanceJson, issues: InputIssue[]): Instance {
  const report = (path: PropertyKey[], reason: string) => issues.push({ path: jsonPath(path), reason });

  const nodes: Node[] = [];
  const nodeById = new Map<string, Node>();
  data.nodes.forEach((n, i) => {
    if (nodeById.has(n.id)) return report(['nodes', i, 'id'], `duplicate node id '${n.id}'`);
    const node: Node = { id: n.id, state: n.state, capacity: { ...n.resources, cpu: n.cpu, mem: n.mem } };
    nodeById.set(n.id, node);
    nodes.push(node);
  });

  const vjobIndex = new Map<string, number>();
  data.vjobs.forEach((j, i) => {
    if (vjobIndex.has(j.id)) report(['vjobs', i, 'id'], `duplicate vjob id '${j.id}'`);
    else vjobIndex.set(j.id, i);
  });

  // A VM belongs to the vjob it names, or to the vjob that lists it.
  const listedIn = new Map<string, string>();
  data.vjobs.forEach((j, i) =>
    j.vms?.forEach((vmId, k) => {
      const other = listedIn.get(vmId);
      if (other !== undefined) report(['vjobs', i, 'vms', k], `VM '${vmId}' is already listed in vjob '${other}'`);
      else listedIn.set(vmId, j.id);
    }),
  );

  const vms: VM[] = [];
  const vmIds = new Set<string>();
  const vmsOfVjob = new Map<string, string[]>();
  // Vjobs some VM entry claims, valid or not: a vjob whose only VM is rejected is not also "without VM".
  const claimed = new Set<string>(listedIn.values());
  data.vms.forEach((v, i) => {
    if (vmIds.has(v.id)) return report(['vms', i, 'id'], `duplicate VM id '${v.id}'`);
    vmIds.add(v.id);
    const listed = listedIn.get(v.id);
    const vjob = v.vjob ?? listed;
    if (v.vjob !== undefined) claimed.add(v.vjob);
    if (vjob === undefined)
      return report(['vms', i], `VM '${v.id}' is listed in no vjob (set 'vjob' or list it in a vjob's 'vms')`);
    if (!vjobIndex.has(vjob)) return report(['vms', i, 'vjob'], `unknown vjob '${vjob}'`);
    if (listed !== undefined && listed !== vjob)
      return report(['vms', i, 'vjob'], `VM '${v.id}' names vjob '${vjob}' but is listed in vjob '${listed}'`);
    const needsHost = v.state === 'running' || v.state === 'paused' || v.state === 'sleeping';
    if (needsHost && v.host === undefined) return report(['vms', i, 'host'], `a ${v.state} VM needs a host`);
    if (!needsHost && v.host !== undefined) return report(['vms', i, 'host'], `a ${v.state} VM must not have a host`);
    if (v.host !== undefined) {
      const host = nodeById.get(v.host);
      if (host === undefined) return report(['vms', i, 'host'], `unknown node '${v.host}'`);
      if (holdsResources(v.state) && host.state === 'offline')
        return report(
          ['vms', i, 'host'],
          `VM '${v.id}' ${v.state === 'running' ? 'runs' : 'is paused'} on node '${v.host}', which is offline`,
        );
    }
    vms.push({ id: v.id, vjob, state: v.state, host: v.host, demand: { ...v.resources, cpu: v.cpu, mem: v.mem } });
    const list = vmsOfVjob.get(vjob);
    if (list) list.push(v.id);
    else vmsOfVjob.set(vjob, [v.id]);
  });
  for (const [vmId, vjob] of listedIn) {
    if (!vmIds.has(vmId)) {
      const i = vjobIndex.get(vjob)!;
      report(['vjobs', i, 'vms', data.vjobs[i]!.vms!.indexOf(vmId)], `unknown VM '${vmId}'`);
    }
  }

  const vjobs: VJob[] = [];
  data.vjobs.forEach((j, i) => {
    if (vjobIndex.get(j.id) !== i) return;
    const own = vmsOfVjob.get(j.id) ?? [];
    if (own.length === 0 && !claimed.has(j.id)) report(['vjobs', i], `vjob '${j.id}' has no VM`);
    vjobs.push({ id: j.id, vms: own, priority: j.priority, submittedAt: j.submittedAt });
  });

  const decision: Record<string, VJobState> = {};
  for (const [vjobId, wanted] of Object.entries(data.decision ?? {})) {
    if (vjobIndex.has(vjobId)) decision[vjobId] = wanted;
    else report(['decision', vjobId], `unknown vjob '${vjobId}'`);
  }
  for (const u of unreachableTargets(vms, decision)) report(['decision', u.vjob], describeUnreachableVjob(u));

  const resolved = resolveConstraints(
    data.constraints ?? [],
    {
      where: 'the instance',
      hasVm: (id) => vmIds.has(id),
      vmsOfVjob: (id) => (vjobIndex.has(id) ? (vmsOfVjob.get(id) ?? []) : undefined),
      hasNode: (id) => nodeById.has(id),
    },
    ['constraints'],
  );
  issues.push(...resolved.issues);
  return {
    configuration: { nodes, vms, vjobs },
    decision,
    costModel: costModelWith(data.costModel),
    constraints: resolved.constraints,
  };
}
