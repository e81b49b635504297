import { type Configuration, type Constraint, type FeasiblePlan, holdsResources, type VM } from '@entropy/engine';
import type { TurnBudgets } from './budget-defaults.ts';

/**
 * Anti-thrash budgets of the control loop: what keeps it from moving VMs every turn for a tiny
 * gain when measured use flutters around a node's capacity.
 *
 * - **Minimum gain.** A plan that only rebalances (no vjob changes state, no node changes power)
 *   comes from an overload at measured use: its gain is the overload it relieves, the sum over
 *   online nodes and dimensions of the use above capacity as a fraction of that capacity
 *   (0.05 = 5% of one node's CPU). A fraction of a node rather than MiB: the placement cost the
 *   engine minimizes is the price of a plan (the memory it moves), not a value of a
 *   configuration, and an overload is CPU in its own units on nodes of any size. A plan whose gain
 *   is under the minimum is held: an overload that small is within the noise of measured use.
 * - **Hold time.** A VM a plan migrated stays put for this long: in every turn it is pinned (a
 *   `root` constraint); when the pinned turn has no plan, or puts off more starts than without the
 *   pins, the turn plans without them (a state change or an overload repair that needs the VM moves
 *   it). The loop remembers its own plans' migrations; after a restart it starts with none: the
 *   hold is a damping hint, never a matter of correctness.
 * - **Per-turn budget** of migrations and of migrated memory: a plan over it is cut, not refused:
 *   the most useful migrations are kept (off an overloaded node first, then the cheapest), the VMs
 *   of the others are pinned, a node the kept ones leave overloaded is planned at its capacity for
 *   this turn, and the turn is planned again; the rest waits for the next turn. A cut that would
 *   put off a start is not made: budgets damp rebalancing, never the context switch itself.
 */
export { DEFAULT_TURN_BUDGETS, NO_TURN_BUDGETS, type TurnBudgets } from './budget-defaults.ts';

/** A vjob a budget holds back (part of its plan, or its start): ReconcileResult.held. */
export interface BudgetHold {
  readonly vjob: string;
  readonly kind: 'budget';
  readonly reason: string;
}

/** What the budgets need of a turn's plan. */
export interface PlannedTurn {
  readonly plan?: FeasiblePlan;
  readonly deferred: readonly string[];
}

export interface BudgetTurn<T extends PlannedTurn> {
  readonly budgets: TurnBudgets;
  readonly now: number;
  /** When each VM was last migrated by a plan of the loop. */
  readonly recentMoves: ReadonlyMap<string, number>;
  /** The configuration the turn plans from (sized as the engine sees it). */
  readonly configuration: Configuration;
  /** No vjob changes state and no node changes power: the plan only moves VMs. */
  readonly rebalanceOnly: boolean;
  /** Vjobs the turn changes the state of: their VMs are not held in place (a VM to suspend has no place to keep). */
  readonly changing?: ReadonlySet<string>;
  /** Plans the turn with more constraints, from a configuration; `ok` false when nothing is feasible. */
  plan(extra: readonly Constraint[], configuration: Configuration): { readonly ok: boolean; readonly result: T };
}

export interface BudgetedTurn<T> {
  readonly ok: boolean;
  /** Undefined when the budgets hold the whole plan back: the turn changes nothing. */
  readonly result?: T;
  /** The configuration `result` was planned from: a node the budget leaves overloaded is at its capacity there. */
  readonly configuration: Configuration;
  readonly held: readonly BudgetHold[];
  readonly reasons: readonly string[];
}

/** A migration of a plan, with the memory it moves. */
export interface Migration {
  readonly vm: string;
  readonly vjob: string;
  readonly from: string;
  readonly to: string;
  readonly mem: number;
}

const CUT_ROUNDS = 3;

/** Plans a turn within the budgets (module comment). */
export function budgetedTurn<T extends PlannedTurn>(t: BudgetTurn<T>): BudgetedTurn<T> {
  const { budgets, configuration } = t;
  const held: BudgetHold[] = [];
  const reasons: string[] = [];
  const holding = heldInPlace(t);

  let pins = holding;
  let turn = t.plan(rootsOf(pins), configuration);
  if (holding.length > 0 && (!turn.ok || turn.result.deferred.length > 0)) {
    const free = t.plan([], configuration);
    if (free.ok && (!turn.ok || free.result.deferred.length < turn.result.deferred.length)) {
      const moved = migrationsOf(free.result.plan, configuration).filter((m) => holding.includes(m.vm));
      if (moved.length > 0)
        reasons.push(
          `hold lifted for ${names(moved.map((m) => m.vm))}: moved within the hold time, but the turn has no plan ${turn.ok ? 'for every start ' : ''}without moving them`,
        );
      turn = free;
      pins = [];
    }
  }
  if (!turn.ok || !turn.result.plan) return { ok: turn.ok, result: turn.result, configuration, held, reasons };
  const first = turn.result;

  if (t.rebalanceOnly && budgets.minGain > 0) {
    const moves = migrationsOf(first.plan, configuration);
    const gain = overloadOf(configuration) - overloadOf(movedBy(configuration, first.plan!));
    if (moves.length > 0 && gain < budgets.minGain - 1e-9) {
      const why = `rebalance held (minimum gain): moving ${names(moves.map((m) => m.vm))} relieves an overload of ${percent(gain)} of a node's capacity, under the minimum of ${percent(budgets.minGain)}`;
      for (const j of vjobsOf(moves)) held.push({ vjob: j, kind: 'budget', reason: why });
      return { ok: true, configuration, held, reasons: [...reasons, why] };
    }
  }

  if (holding.length > 0 && pins.length > 0)
    reasons.push(`${names(holding)} moved less than ${Math.round(budgets.moveHoldMs / 1000)} s ago: kept in place`);

  // The per-turn budget: cut to it, replan, a few rounds at most (another plan may move other VMs).
  let result = first;
  let from = configuration;
  const limit = `${budgets.maxMigrations} migrations, ${budgets.maxMigratedMiB} MiB`;
  for (let round = 0; round <= CUT_ROUNDS; round++) {
    const moves = migrationsOf(result.plan, configuration);
    if (withinBudget(moves, budgets)) {
      if (result !== first) {
        const dropped = migrationsOf(first.plan, configuration).filter((m) => !moves.some((k) => k.vm === m.vm));
        const why = `per-turn budget (${limit}): ${moves.length} of ${migrationsOf(first.plan, configuration).length} migrations this turn${dropped.length ? `, ${names(dropped.map((m) => m.vm))} wait${dropped.length === 1 ? 's' : ''} for a later turn` : ''}`;
        reasons.push(why);
        for (const j of vjobsOf(dropped)) held.push({ vjob: j, kind: 'budget', reason: why });
      }
      return { ok: true, result, configuration: from, held, reasons };
    }
    if (round === CUT_ROUNDS) break;
    const { kept, dropped } = cutToBudget(moves, budgets, overloadedNodes(configuration));
    pins = [...new Set([...pins, ...dropped.map((m) => m.vm)])];
    const capped = atCapacityAfter(configuration, kept);
    const next = t.plan(rootsOf(pins), capped);
    // Budgets damp rebalancing; they never put off a start that the whole plan makes (the context switch runs whole).
    if (!next.ok || next.result.deferred.some((j) => !first.deferred.includes(j))) break;
    result = next.result;
    from = capped;
  }
  const why = `per-turn budget (${limit}): no plan within it found`;
  if (t.rebalanceOnly) {
    for (const j of vjobsOf(migrationsOf(first.plan, configuration)))
      held.push({ vjob: j, kind: 'budget', reason: `${why}: the rebalance waits` });
    return { ok: true, configuration, held, reasons: [...reasons, `${why}: the rebalance waits`] };
  }
  // A state change is not damped: its plan runs whole when the budget would put off one of its starts.
  return {
    ok: true,
    result: first,
    configuration,
    held,
    reasons: [...reasons, `${why}: the turn's state changes need all of it`],
  };
}

/** The running VMs migrated within the hold time: pinned this turn. */
function heldInPlace(t: BudgetTurn<PlannedTurn>): string[] {
  if (t.recentMoves.size === 0 || t.budgets.moveHoldMs <= 0) return [];
  const recent = new Set([...t.recentMoves].filter(([, at]) => t.now - at < t.budgets.moveHoldMs).map(([vm]) => vm));
  if (recent.size === 0) return [];
  return t.configuration.vms
    .filter((v) => recent.has(v.id) && v.state === 'running' && v.host !== undefined && !t.changing?.has(v.vjob))
    .map((v) => v.id)
    .sort();
}

/** Migrations of a plan (a pivot's two hops count twice), with each VM's memory. */
export function migrationsOf(plan: FeasiblePlan | undefined, configuration: Configuration): Migration[] {
  const moves = plan?.actions.filter((a) => a.type === 'migrate') ?? [];
  if (moves.length === 0) return [];
  const moved = new Set(moves.map((a) => a.vm));
  const mem = new Map(configuration.vms.filter((v) => moved.has(v.id)).map((v) => [v.id, v.demand.mem ?? 0]));
  return moves.map((a) => ({ vm: a.vm, vjob: a.vjob, from: a.from!, to: a.to!, mem: mem.get(a.vm) ?? 0 }));
}

function withinBudget(moves: readonly Migration[], b: TurnBudgets): boolean {
  return moves.length <= b.maxMigrations && moves.reduce((s, m) => s + m.mem, 0) <= b.maxMigratedMiB;
}

/** The most useful migrations within the budget (off an overloaded node first, then the cheapest), and the others. */
export function cutToBudget(
  moves: readonly Migration[],
  b: TurnBudgets,
  overloaded: ReadonlySet<string>,
): { kept: Migration[]; dropped: Migration[] } {
  const rank = (m: Migration) => (overloaded.has(m.from) ? 0 : 1);
  const ranked = [...moves].sort((x, y) => rank(x) - rank(y) || x.mem - y.mem || (x.vm < y.vm ? -1 : 1));
  const kept: Migration[] = [];
  const dropped: Migration[] = [];
  let mem = 0;
  for (const m of ranked)
    if (kept.length < b.maxMigrations && mem + m.mem <= b.maxMigratedMiB && !dropped.some((d) => d.vm === m.vm)) {
      kept.push(m);
      mem += m.mem;
    } else dropped.push(m);
  // A VM's two hops (a pivot) go or stay together.
  return {
    kept: kept.filter((k) => !dropped.some((d) => d.vm === k.vm)),
    dropped: [...dropped, ...kept.filter((k) => dropped.some((d) => d.vm === k.vm))],
  };
}

/** Per node and dimension, the use of the VMs holding resources there (on `hostOf`, their host unless told). */
export function usedOn(
  configuration: Configuration,
  hostOf: (vm: VM) => string | undefined = (vm) => vm.host,
): Map<string, Record<string, number>> {
  const used = new Map<string, Record<string, number>>();
  for (const vm of configuration.vms) {
    const host = hostOf(vm);
    if (!holdsResources(vm.state) || host === undefined) continue;
    let u = used.get(host);
    if (u === undefined) used.set(host, (u = {}));
    for (const k in vm.demand) u[k] = (u[k] ?? 0) + vm.demand[k]!;
  }
  return used;
}

/** The overload of a configuration: over online nodes and dimensions, the use above capacity as a fraction of that capacity. */
export function overloadOf(configuration: Configuration): number {
  let total = 0;
  for (const [node, excess] of excessOf(configuration))
    for (const k in excess) total += excess[k]! / configuration.nodes.find((n) => n.id === node)!.capacity[k]!;
  return total;
}

/** Per overloaded online node, the use above capacity per dimension (dimensions the node has). */
function excessOf(
  configuration: Configuration,
  hostOf?: (vm: VM) => string | undefined,
): Map<string, Record<string, number>> {
  const used = usedOn(configuration, hostOf);
  const out = new Map<string, Record<string, number>>();
  for (const n of configuration.nodes) {
    const u = used.get(n.id);
    if (u === undefined || n.state !== 'online') continue;
    for (const k in u) {
      const cap = n.capacity[k];
      if (cap === undefined || cap <= 0 || u[k]! <= cap + 1e-9) continue;
      let e = out.get(n.id);
      if (e === undefined) out.set(n.id, (e = {}));
      e[k] = u[k]! - cap;
    }
  }
  return out;
}

function overloadedNodes(configuration: Configuration): Set<string> {
  return new Set(excessOf(configuration).keys());
}

/** The configuration with each migrated VM on the plan's target node. */
function movedBy(configuration: Configuration, plan: FeasiblePlan): Configuration {
  const moved = new Set(plan.actions.filter((a) => a.type === 'migrate').map((a) => a.vm));
  return {
    ...configuration,
    vms: configuration.vms.map((vm) => {
      const to = moved.has(vm.id) ? plan.target[vm.id]?.host : undefined;
      return to === undefined ? vm : { ...vm, host: to };
    }),
  };
}

/**
 * The configuration where each node still overloaded after the `kept` migrations has its staying
 * VMs scaled down to its capacity: this turn relieves the other nodes; that one waits for the next.
 */
export function atCapacityAfter(configuration: Configuration, kept: readonly Migration[]): Configuration {
  const to = new Map(kept.map((m) => [m.vm, m.to]));
  const excess = excessOf(configuration, (vm) => to.get(vm.id) ?? vm.host);
  if (excess.size === 0) return configuration;
  const staying = usedOn(configuration, (vm) => (to.has(vm.id) ? undefined : vm.host));
  return {
    ...configuration,
    vms: configuration.vms.map((vm) => {
      const e = vm.host !== undefined && !to.has(vm.id) && holdsResources(vm.state) ? excess.get(vm.host) : undefined;
      if (e === undefined) return vm;
      const demand: Record<string, number> = { ...vm.demand };
      for (const k in e) {
        const stay = staying.get(vm.host!)![k]!;
        if (stay > 0 && demand[k] !== undefined) demand[k] = demand[k] * Math.max(0, 1 - e[k]! / stay);
      }
      return { ...vm, demand };
    }),
  };
}

const rootsOf = (vms: readonly string[]): Constraint[] => vms.map((vm) => ({ type: 'root', vm }));
const vjobsOf = (moves: readonly Migration[]) => [...new Set(moves.map((m) => m.vjob))].sort();
const percent = (x: number) => `${Math.round(x * 1000) / 10}%`;
const names = (ids: readonly string[]) =>
  ids.length <= 6 ? ids.join(', ') : `${ids.slice(0, 6).join(', ')} and ${ids.length - 6} more`;
