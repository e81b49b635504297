import { describeConstraint, type Constraint, flatten, nodesOf, vmsOf } from '../constraints/constraint.ts';
import type { Configuration, Decision } from '../model/configuration.ts';
import type { CostModel } from '../model/cost-model.ts';
import { type VJobState, vjobStateOf, type VMState } from '../model/lifecycle.ts';
import type { ActionDurations } from '../model/problem.ts';
import { contextSwitch, defaultTimeLimitFor, TIME_LIMIT_REASON } from './context-switch.ts';

/**
 * Why an instance has no plan: a minimal set of its constraints and of its decision's starts that
 * has no plan on its own (with everything else of the decision kept), such that removing any one
 * member gives a plan. Found by a deletion filter over the candidates with cheap probes of the
 * engine (no improvement search).
 */
export interface ConflictExplanation {
  /** The conflicting constraints, in the order of the instance's list, and their indexes in it. */
  readonly constraints: readonly Constraint[];
  readonly constraintIndexes: readonly number[];
  /** The conflicting starts of the decision (a vjob wanted running that is not running now). */
  readonly starts: readonly string[];
  /** VMs that the set's constraints leave no node to run on (whatever the room). */
  readonly vmsWithoutNode: readonly string[];
  /** False when the probe budget or the time limit ran out first: the set has no plan, but may not be minimal. */
  readonly minimal: boolean;
  /** Probes of the engine spent. */
  readonly probes: number;
  /** The engine's reason on the instance reduced to the set. */
  readonly detail: string;
  /** One sentence naming the set, e.g. `fence(v1, {n2}, discrete) and ban(v1, {n2}, discrete) leave v1 no node`. */
  readonly sentence: string;
}

export interface ExplainOptions {
  readonly constraints?: readonly Constraint[];
  readonly durations?: ActionDurations;
  /** Probes of the engine at most (default 200); each is a context switch without improvement. */
  readonly maxProbes?: number;
  /** Wall-clock bound of the whole explanation (default: the context switch's default time limit for the instance). */
  readonly timeLimitMs?: number;
  readonly clock?: () => number;
}

export const DEFAULT_MAX_PROBES = 200;

type Verdict = 'feasible' | 'infeasible' | 'unknown';

/**
 * The conflict behind an infeasible instance, or undefined when the instance has a plan (or when
 * even the first probe ran out of time). Candidates are the constraints (but `overbook`, which only
 * adds room) and the decision's starts; the decision's other entries (stops, suspends, states kept)
 * only free room and always stay.
 *
 * On large instances the filter first removes halves, then quarters... of the candidates (a
 * conflict of k members among n costs about k log n probes, not n), then one at a time until a
 * whole pass removes nothing, so that each member's removal is seen to give a plan. When the probe
 * budget or the time ends first, what is left still has no plan and `minimal` is false; a probe that
 * times out counts as "has a plan" (its element stays), which keeps the set infeasible.
 */
export function explainInfeasible(
  configuration: Configuration,
  decision: Decision,
  costModel: CostModel,
  options: ExplainOptions = {},
): ConflictExplanation | undefined {
  const now = options.clock ?? (() => performance.now());
  const deadline = now() + (options.timeLimitMs ?? defaultTimeLimitFor(configuration.vms.length));
  const maxProbes = options.maxProbes ?? DEFAULT_MAX_PROBES;
  const all = options.constraints ?? [];
  const current = currentVjobStates(configuration);

  // Candidates: constraint indexes (>= 0) and starts (-1 - k, k into `starts`).
  const starts: string[] = [];
  const background: Record<string, VJobState> = {};
  for (const [vjob, state] of Object.entries(decision)) {
    if (state === 'running' && current.get(vjob) !== 'running') starts.push(vjob);
    else background[vjob] = state;
  }
  const alwaysKept = new Set(all.flatMap((c, i) => (c.type === 'overbook' ? [i] : [])));
  const candidates: number[] = [...all.keys()].filter((i) => all[i]!.type !== 'overbook');
  candidates.push(...starts.map((_, k) => -1 - k));

  let probes = 0;
  let exhausted = false;
  let detail = '';
  const probe = (kept: readonly number[]): Verdict => {
    const left = deadline - now();
    if (probes >= maxProbes || left <= 0) {
      exhausted = true;
      return 'unknown';
    }
    probes++;
    const keptSet = new Set(kept);
    const constraints = all.filter((_, i) => keptSet.has(i) || alwaysKept.has(i));
    const d: Record<string, VJobState> = { ...background };
    for (const [k, vjob] of starts.entries()) if (keptSet.has(-1 - k)) d[vjob] = 'running';
    const plan = contextSwitch(configuration, d, costModel, {
      constraints,
      workBudget: 0,
      timeLimitMs: Math.max(1, Math.round(left)),
      ...(options.durations ? { durations: options.durations } : {}),
      clock: now,
    });
    if (plan.feasible) return 'feasible';
    if (plan.reason.startsWith(TIME_LIMIT_REASON)) {
      exhausted = true;
      return 'unknown';
    }
    detail = plan.reason;
    return 'infeasible';
  };

  if (probe(candidates) !== 'infeasible') return undefined;
  let kept = candidates;
  let lastDetail = detail;
  // Focus first, without probes: a VM that the constraints' node lists leave no node at all needs
  // only those lists (and its start) to have no plan; one probe checks it, the rest goes at once.
  const noNode = vmsLeftNoNode(
    configuration,
    all.filter((c) => c.type !== 'overbook'),
    new Set(starts),
    background,
    current,
  );
  if (noNode.length > 0) {
    const vm = noNode[0]!;
    const vjob = configuration.vms.find((v) => v.id === vm)?.vjob;
    const focus = candidates.filter((e) => (e >= 0 ? restricts(all[e]!, vm) : starts[-1 - e] === vjob));
    if (focus.length < kept.length && probe(focus) === 'infeasible') {
      kept = focus;
      lastDetail = detail;
    }
  } else if (starts.length > 0) {
    // Else the constraints linked to the starts' VMs through shared VMs and nodes, with every start.
    const linked = linkedConstraints(
      all,
      configuration.vms.filter((v) => starts.includes(v.vjob)).map((v) => v.id),
    );
    const focus = candidates.filter((e) => e < 0 || linked.has(e));
    if (focus.length < kept.length && probe(focus) === 'infeasible') {
      kept = focus;
      lastDetail = detail;
    }
  }
  /** Removes `part` from the set when what is left still has no plan. */
  const tryWithout = (part: ReadonlySet<number>): boolean => {
    const rest = kept.filter((e) => !part.has(e));
    if (probe(rest) !== 'infeasible') return false;
    kept = rest;
    lastDetail = detail;
    return true;
  };

  // Then chunks: halves, quarters, ... down to pairs.
  for (let size = Math.floor(kept.length / 2); size >= 2 && !exhausted; size = Math.floor(size / 2))
    for (let at = 0; at < kept.length && !exhausted; ) {
      const part = new Set(kept.slice(at, at + size));
      if (!tryWithout(part)) at += size;
    }
  // Then one at a time, until a whole pass removes nothing: every member is then seen to matter.
  let changed = true;
  while (changed && !exhausted) {
    changed = false;
    for (const e of [...kept]) {
      if (exhausted) break;
      if (tryWithout(new Set([e]))) changed = true;
    }
  }

  const keptSet = new Set(kept);
  const constraintIndexes = [...all.keys()].filter((i) => keptSet.has(i));
  const constraints = constraintIndexes.map((i) => all[i]!);
  const conflictStarts = starts.filter((_, k) => keptSet.has(-1 - k));
  const vmsWithoutNode = vmsLeftNoNode(configuration, constraints, new Set(conflictStarts), background, current);
  return {
    constraints,
    constraintIndexes,
    starts: conflictStarts,
    vmsWithoutNode,
    minimal: !exhausted,
    probes,
    detail: lastDetail,
    sentence: sentenceOf(constraints, conflictStarts, vmsWithoutNode, lastDetail, !exhausted),
  };
}

function currentVjobStates(configuration: Configuration): Map<string, VJobState> {
  const states = new Map<string, VMState[]>();
  for (const vm of configuration.vms) {
    const list = states.get(vm.vjob);
    if (list) list.push(vm.state);
    else states.set(vm.vjob, [vm.state]);
  }
  return new Map([...states].map(([j, s]) => [j, vjobStateOf(s)]));
}

/**
 * VMs that must run at the end and that the constraints' node lists (offline, fence, ban, among)
 * leave no node at all: the conflict is then not a lack of room.
 */
function vmsLeftNoNode(
  configuration: Configuration,
  constraints: readonly Constraint[],
  starts: ReadonlySet<string>,
  background: Decision,
  current: ReadonlyMap<string, VJobState>,
): string[] {
  const online = new Set(configuration.nodes.filter((n) => n.state === 'online').map((n) => n.id));
  for (const c of constraints) {
    if (c.type === 'offline') online.delete(c.node);
    if (c.type === 'online') online.add(c.node);
  }
  // Per VM, the nodes its fences and among groups allow (undefined: every node) and those it is banned from:
  // linear in the constraints' lists, no copy of the node set per VM.
  const fenced = new Map<string, Set<string>>();
  const banned = new Map<string, Set<string>>();
  const keepOnly = (vm: string, nodes: readonly string[]) => {
    const earlier = fenced.get(vm);
    fenced.set(vm, new Set(earlier ? nodes.filter((n) => earlier.has(n)) : nodes));
  };
  for (const c of constraints) {
    if (c.type === 'fence') keepOnly(c.vm, c.nodes);
    else if (c.type === 'ban') {
      let b = banned.get(c.vm);
      if (!b) banned.set(c.vm, (b = new Set()));
      for (const n of c.nodes) b.add(n);
    } else if (c.type === 'among') for (const vm of c.vms) keepOnly(vm, flatten(c.parts));
  }
  const hasNode = (vm: string) => {
    const b = banned.get(vm);
    const f = fenced.get(vm);
    if (f) {
      for (const n of f) if (online.has(n) && !b?.has(n)) return true;
      return false;
    }
    if (!b) return online.size > 0;
    let bannedOnline = 0;
    for (const n of b) if (online.has(n)) bannedOnline++;
    return online.size > bannedOnline;
  };
  const named = new Set(
    constraints.flatMap((c) => (c.type === 'offline' || c.type === 'online' ? [] : vmsOfRestriction(c))),
  );
  const toRun = new Set(constraints.flatMap((c) => (c.type === 'running' ? [c.vm] : [])));
  const out: string[] = [];
  for (const vm of configuration.vms) {
    if (!named.has(vm.id)) continue;
    const wanted = starts.has(vm.vjob) || toRun.has(vm.id) ? 'running' : (background[vm.vjob] ?? current.get(vm.vjob));
    if (wanted !== 'running' || vm.state === 'terminated') continue;
    if (!hasNode(vm.id)) out.push(vm.id);
  }
  return out;
}

/** The indexes of the constraints reachable from the VMs through the VM and node ids the constraints share. */
function linkedConstraints(all: readonly Constraint[], seeds: readonly string[]): Set<number> {
  const byId = new Map<string, number[]>();
  const ids = (c: Constraint) => [...vmsOf(c).map((v) => `vm:${v}`), ...nodesOf(c).map((n) => `node:${n}`)];
  for (const [i, c] of all.entries())
    for (const id of ids(c)) {
      const list = byId.get(id);
      if (list) list.push(i);
      else byId.set(id, [i]);
    }
  const seen = new Set<string>(seeds.map((v) => `vm:${v}`));
  const queue = [...seen];
  const out = new Set<number>();
  while (queue.length > 0)
    for (const i of byId.get(queue.pop()!) ?? []) {
      if (out.has(i)) continue;
      out.add(i);
      for (const id of ids(all[i]!))
        if (!seen.has(id)) {
          seen.add(id);
          queue.push(id);
        }
    }
  return out;
}

/** Whether a constraint bears on the nodes a VM may run on: its own node lists, or a node's state. */
const restricts = (c: Constraint, vm: string): boolean =>
  c.type === 'offline' ||
  c.type === 'online' ||
  vmsOfRestriction(c).includes(vm) ||
  (c.type === 'running' && c.vm === vm);

const vmsOfRestriction = (c: Constraint): readonly string[] =>
  c.type === 'fence' || c.type === 'ban' ? [c.vm] : c.type === 'among' ? c.vms : [];

/** `a, b, c`; past MAX_NAMED items, `a, b, ... (12)`. */
const listed = (items: readonly string[]) =>
  items.length > MAX_NAMED ? `${items.slice(0, MAX_NAMED).join(', ')}, ... (${items.length})` : items.join(', ');

/** Items a sentence names at most; the rest is counted. */
const MAX_NAMED = 8;

/** `a`, `a and b`, `a, b and c`; past MAX_NAMED items, `a, b, ... and 12 more`. */
export function joinAnd(items: readonly string[]): string {
  if (items.length > MAX_NAMED) return `${items.slice(0, MAX_NAMED).join(', ')} and ${items.length - MAX_NAMED} more`;
  if (items.length <= 1) return items.join('');
  return `${items.slice(0, -1).join(', ')} and ${items.at(-1)}`;
}

function sentenceOf(
  constraints: readonly Constraint[],
  starts: readonly string[],
  vmsWithoutNode: readonly string[],
  detail: string,
  minimal: boolean,
): string {
  const named = constraints.map(describeConstraint);
  const caveat = minimal ? '' : ' (the search stopped early: the set may not be minimal)';
  if (vmsWithoutNode.length > 0 && named.length > 0)
    return `${joinAnd(named)} ${named.length === 1 ? 'leaves' : 'leave'} ${joinAnd(vmsWithoutNode)} no node${caveat}`;
  if (starts.length > 0 && named.length > 0)
    return `${joinAnd([`running ${listed(starts)}`, ...named])} do not fit together: ${detail}${caveat}`;
  if (starts.length > 0)
    return `running ${joinAnd(starts)} ${starts.length === 1 ? 'does' : 'do'} not fit: ${detail}${caveat}`;
  if (named.length > 0)
    return `${joinAnd(named)} ${named.length === 1 ? 'cannot hold' : 'cannot all hold'}: ${detail}${caveat}`;
  return `the current configuration has no plan on its own: ${detail}${caveat}`;
}
