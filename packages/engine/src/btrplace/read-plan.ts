import { ErrorCode, InvalidInputError } from '@entropy/protocol';
import type { Configuration } from '../model/configuration.ts';
import type { ActionType, NodeActionType } from '../model/lifecycle.ts';
import type { NodeAction, PlannedAction } from '../model/plan.ts';
import type { PlannedAllocation, VerifiablePlan } from '../verifier/index.ts';
import { nodeName, UNIT_MS, vmName } from './ids.ts';
import { JsonReader } from './json-reader.ts';

/** How a BtrPlace plan's integer ids and time units map to an instance's names and milliseconds. */
export interface PlanImportContext {
  readonly vm: (id: number) => string;
  readonly node: (id: number) => string;
  readonly vjobOf: (vm: string) => string;
  readonly unitMs: number;
}

/** Import context for a plan of an instance read from BtrPlace's JSON: VM 12 is 'vm12', one unit is UNIT_MS. */
export function btrplaceImportContext(configuration: Configuration): PlanImportContext {
  return { vm: vmName, node: nodeName, vjobOf: vjobIndex(configuration), unitMs: UNIT_MS };
}

/** Import context for a plan `--output-format btrplace` wrote for an Entropy instance: ids are positions, times ms. */
export function entropyImportContext(configuration: Configuration): PlanImportContext {
  const at = (list: readonly { id: string }[], what: string) => (id: number) => list[id]?.id ?? `${what} #${id}`;
  return {
    vm: at(configuration.vms, 'VM'),
    node: at(configuration.nodes, 'node'),
    vjobOf: vjobIndex(configuration),
    unitMs: 1,
  };
}

function vjobIndex(configuration: Configuration): (vm: string) => string {
  const vjobOf = new Map(configuration.vms.map((v) => [v.id, v.vjob]));
  // An unknown VM keeps its name as vjob: the verifier reports the VM as unknown.
  return (vm) => vjobOf.get(vm) ?? vm;
}

/** A plan file in BtrPlace's format has `actions` and no `feasible` flag (Entropy's plan JSON always has one). */
export function isBtrPlacePlan(json: unknown): boolean {
  return (
    typeof json === 'object' && json !== null && !Array.isArray(json) && !('feasible' in json) && 'actions' in json
  );
}

type Read =
  | { type: ActionType; vm: string; from?: string; to?: string }
  | { type: NodeActionType; node: string }
  | { type: 'allocate'; vm: string; rc: string; amount: number; node: string };

/**
 * Reads BtrPlace's plan JSON (what write-plan.ts writes: `origin`, `actions` with `id`, `start`,
 * `end`) into a plan the verifier replays. BtrPlace's plan has neither steps nor dependencies:
 * steps follow start times, and without dependencies the ASAP view is not checked. Entropy's pause
 * and unpause, parts of BtrPlace's suspend and resume, are put back: a vjob's VMs pause together
 * when its first suspend starts, and unpause together when its last resume ends. `allocate` actions
 * become the plan's `allocations` (when a staying VM's demand grows); `allocate` events of the
 * actions that move a VM are skipped, as the verifier counts a moved VM's raised demand (the
 * instance's preserve constraints) from its arrival. The first problem is reported with its JSON path.
 */
export function readBtrPlacePlan(json: unknown, file: string, ctx: PlanImportContext): VerifiablePlan {
  const r = new JsonReader();
  const fail = () => new InvalidInputError(ErrorCode.InvalidPlan, file, r.issues.slice(0, 1));
  const list = r.array(r.object(json, [])?.actions, ['actions']);
  if (!list) throw fail();
  const actions: PlannedAction[] = [];
  const nodeActions: NodeAction[] = [];
  const allocations: PlannedAllocation[] = [];
  list.forEach((x, i) => {
    const path = ['actions', i];
    const o = r.object(x, path);
    const read = o && readAction(r, o, path, ctx);
    const start = o && r.number(o.start, [...path, 'start']);
    const end = o && r.number(o.end, [...path, 'end']);
    if (read === undefined || start === undefined || end === undefined) return;
    if (start < 0) return r.report([...path, 'start'], 'must not be negative');
    if (end < start) return r.report([...path, 'end'], `ends (${end}) before it starts (${start})`);
    const common = { id: `a${i}`, start: start * ctx.unitMs, end: end * ctx.unitMs, step: 0, dependsOn: [] };
    if (read.type === 'allocate') {
      const { type: _, ...rest } = read;
      allocations.push({ id: common.id, ...rest, at: common.start });
    } else if ('node' in read) nodeActions.push({ ...common, type: read.type, node: read.node });
    else actions.push({ ...common, ...read, vjob: ctx.vjobOf(read.vm) });
  });
  if (r.issues.length > 0) throw fail();
  const all = withPauses(actions);
  const steps = assignSteps([...all, ...nodeActions]);
  return {
    feasible: true,
    actions: all.map((a) => ({ ...a, step: steps.get(a)! })),
    ...(nodeActions.length > 0 ? { nodeActions: nodeActions.map((a) => ({ ...a, step: steps.get(a)! })) } : {}),
    steps: new Set(steps.values()).size,
    makespan: [...all, ...nodeActions].reduce((max, a) => Math.max(max, a.end), 0),
    sumCompletion: actions.reduce((sum, a) => sum + a.end, 0),
    solveMs: 0,
    allocations,
  };
}

function readAction(
  r: JsonReader,
  o: Record<string, unknown>,
  path: PropertyKey[],
  ctx: PlanImportContext,
): Read | undefined {
  const id = r.string(o.id, [...path, 'id']);
  const node = (field: string) => {
    const n = r.int(o[field], [...path, field]);
    return n === undefined ? undefined : ctx.node(n);
  };
  const vmAction = (type: ActionType, from: string | undefined, to: string | undefined) => {
    const n = r.int(o.vm, [...path, 'vm']);
    if (n === undefined) return undefined;
    return { type, vm: ctx.vm(n), ...(from !== undefined ? { from } : {}), ...(to !== undefined ? { to } : {}) };
  };
  switch (id) {
    case undefined:
      return undefined;
    case 'migrateVM':
      return vmAction('migrate', node('from'), node('to'));
    case 'bootVM':
      return vmAction('run', undefined, node('on'));
    case 'shutdownVM':
    case 'killVM':
      return vmAction('stop', node('on'), undefined);
    case 'resumeVM':
      return vmAction('resume', node('from'), node('to'));
    case 'suspendVM': {
      const from = node('from');
      if (from !== undefined && node('to') !== from)
        return r.report([...path, 'to'], 'suspending a VM onto another node is not supported by Entropy');
      return vmAction('suspend', from, undefined);
    }
    case 'bootNode':
    case 'shutdownNode': {
      const n = node('node');
      return n === undefined ? undefined : { type: id, node: n };
    }
    case 'allocate': {
      const vm = r.int(o.vm, [...path, 'vm']);
      const rc = r.string(o.rc, [...path, 'rc']);
      const amount = r.int(o.amount, [...path, 'amount']);
      const on = node('on');
      if (vm === undefined || rc === undefined || amount === undefined || on === undefined) return undefined;
      if (amount < 0) return r.report([...path, 'amount'], 'must not be negative');
      return { type: 'allocate', vm: ctx.vm(vm), rc, amount, node: on };
    }
    default:
      return r.report(
        [...path, 'id'],
        `unknown action '${id}' (supported: migrateVM, bootVM, shutdownVM, killVM, suspendVM, resumeVM, bootNode, shutdownNode, allocate)`,
      );
  }
}

/** The plan's VM actions with each vjob's pause before its first suspend and unpause after its last resume. */
function withPauses(actions: readonly PlannedAction[]): PlannedAction[] {
  const out = [...actions];
  const byVjob = new Map<string, { suspend: PlannedAction[]; resume: PlannedAction[] }>();
  for (const a of actions) {
    if (a.type !== 'suspend' && a.type !== 'resume') continue;
    let g = byVjob.get(a.vjob);
    if (!g) byVjob.set(a.vjob, (g = { suspend: [], resume: [] }));
    g[a.type].push(a);
  }
  for (const { suspend, resume } of byVjob.values()) {
    const pauseAt = Math.min(...suspend.map((a) => a.start));
    for (const a of suspend)
      out.push({
        id: `${a.id}-pause`,
        type: 'pause',
        vm: a.vm,
        vjob: a.vjob,
        from: a.from!,
        start: pauseAt,
        end: pauseAt,
        step: 0,
        dependsOn: [],
      });
    const unpauseAt = Math.max(...resume.map((a) => a.end));
    for (const a of resume)
      out.push({
        id: `${a.id}-unpause`,
        type: 'unpause',
        vm: a.vm,
        vjob: a.vjob,
        from: a.to!,
        start: unpauseAt,
        end: unpauseAt,
        step: 0,
        dependsOn: [],
      });
  }
  return out;
}

/**
 * Steps by start time, so that the barrier view sees what the timed view sees; a suspend and an
 * unpause come one step after a pause or resume that starts at the same instant.
 */
function assignSteps(actions: readonly (PlannedAction | NodeAction)[]): Map<PlannedAction | NodeAction, number> {
  const phase = (a: PlannedAction | NodeAction) => (a.type === 'suspend' || a.type === 'unpause' ? 1 : 0);
  const order = [...actions].sort((x, y) => x.start - y.start || phase(x) - phase(y));
  const steps = new Map<PlannedAction | NodeAction, number>();
  let step = -1;
  order.forEach((a, i) => {
    const prev = order[i - 1];
    if (!prev || prev.start !== a.start || phase(prev) !== phase(a)) step++;
    steps.set(a, step);
  });
  return steps;
}
