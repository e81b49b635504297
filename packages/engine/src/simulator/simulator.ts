import { cautiousPlan, keepingFirstStarts } from '../solver/cautious-plan.ts';
import { contextSwitch } from '../solver/context-switch.ts';
import type { Configuration, Decision, VJob, VM } from '../model/configuration.ts';
import { ACTION_TYPES, type ActionType } from '../model/lifecycle.ts';
import type { FeasiblePlan } from '../model/plan.ts';
import type { Resources } from '../model/resources.ts';
import { decideSafely } from '../policy/decide-safely.ts';
import { buildPolicyView, type Policy, type QueuedVJob, type Sizing } from '../policy/policy.ts';
import type { Scenario } from './scenario.ts';
import { newRun, phaseCpu, progressOf, type VJobRun } from './vjob-run.ts';

export interface SimulationOptions {
  /** The engine's time budget per turn (its improvement phases); small keeps long simulations fast. */
  readonly timeLimitMs?: number;
  /** Virtual time after which the simulation gives up on unfinished vjobs. */
  readonly horizonMs?: number;
  /** Ends the simulation at the policy's first failure (its figures would mean nothing: `entropy experiment`). */
  readonly stopOnPolicyError?: boolean;
}

export const DEFAULT_SIMULATION_TIME_LIMIT_MS = 200;
export const DEFAULT_HORIZON_MS = 30 * 24 * 3600_000;

/** Cluster-wide CPU and memory use, as fractions of the capacity, from `start` to `end`. */
export interface UseSegment {
  readonly start: number;
  readonly end: number;
  readonly cpu: number;
  readonly mem: number;
}

export interface SimulationResult {
  readonly scenario: string;
  readonly policy: string;
  readonly vjobs: readonly { readonly id: string; readonly submittedAt: number; readonly completedAt?: number }[];
  /** Sum over vjobs of completion minus submission. */
  readonly cumulatedMs: number;
  /** Completion of the last vjob, from time 0. */
  readonly makespanMs: number;
  /** Mean share of the cluster's CPU used, over [0, makespan]. */
  readonly utilisation: number;
  readonly memUtilisation: number;
  readonly actions: Readonly<Record<ActionType, number>>;
  /** Total virtual time spent executing plans (the sum of their makespans). */
  readonly switchMs: number;
  readonly switches: number;
  readonly turns: number;
  /** Turns whose decision the engine found infeasible (a cautious decision was then tried). */
  readonly infeasibleTurns: number;
  readonly policyErrors: readonly string[];
  /** Real time spent in the engine. */
  readonly solveMs: number;
  readonly timeline: readonly UseSegment[];
  readonly unfinished: readonly string[];
}

/**
 * A discrete-event simulation in virtual time of the control loop: at each turn (every
 * `controlPeriodMs`, and at once after a submission or a completion) the policy decides, the real
 * context switch plans, and virtual time advances by the plan's makespan. Assumptions:
 * - a vjob's phases progress only while it runs, at the pace its nodes' CPU allows (vjob-run.ts);
 * - during a context switch a vjob the plan acts on makes no progress from the start of its first
 *   action to the end of its last (a migrating vjob counts as stopped: conservative for live
 *   migration); the others go on; the plan's target takes effect at the plan's end;
 * - a vjob whose last phase ends leaves the cluster at once (its stop is not planned);
 * - a policy sees VMs at peak demand plus the measured use of VMs that ran (waiting VMs have no
 *   measurement); the engine gets the peak demand for `sizing: 'peak'` policies, else the CPU use
 *   of the VM's current phase, so idle VMs free CPU for others.
 */
export function simulate(scenario: Scenario, policy: Policy, options: SimulationOptions = {}): SimulationResult {
  return new Simulation(scenario, policy, options).run();
}

const EPSILON = 1e-6;

/**
 * The stretches of a plan and the vjobs that make no progress during each: a vjob is frozen from
 * the start of its first action to the end of its last one (to the plan's end when the plan
 * suspends or stops it, as it does not run again before the target takes effect). A live
 * migration does not freeze its vjob: the VM runs on during the copy (its downtime, tens of
 * milliseconds, is neglected).
 */
export function frozenSpans(plan: FeasiblePlan): [number, number, Set<string>][] {
  const window = new Map<string, [number, number]>();
  for (const a of plan.actions) {
    if (a.type === 'migrate') continue;
    const w = window.get(a.vjob);
    if (w) {
      w[0] = Math.min(w[0], a.start);
      w[1] = Math.max(w[1], a.end);
    } else window.set(a.vjob, [a.start, a.end]);
  }
  for (const a of plan.actions)
    if (a.type !== 'migrate' && plan.target[a.vm]?.state !== 'running') window.get(a.vjob)![1] = plan.makespan;
  const cuts = [...new Set([0, plan.makespan, ...[...window.values()].flat()])].sort((x, y) => x - y);
  const spans: [number, number, Set<string>][] = [];
  for (let i = 0; i + 1 < cuts.length; i++) {
    const [from, to] = [cuts[i]!, cuts[i + 1]!];
    spans.push([from, to, new Set([...window].filter(([, w]) => w[0] <= from && to <= w[1]).map(([j]) => j))]);
  }
  return spans;
}

class Simulation {
  private t = 0;
  private readonly runs: VJobRun[];
  private event = true;
  private lastGood: Decision = {};
  private readonly timeline: UseSegment[] = [];
  private readonly actions = Object.fromEntries(ACTION_TYPES.map((a) => [a, 0])) as Record<ActionType, number>;
  private switchMs = 0;
  private switches = 0;
  private turns = 0;
  private infeasibleTurns = 0;
  private readonly policyErrors: string[] = [];
  private solveMs = 0;
  private readonly totalCpu: number;
  private readonly totalMem: number;

  constructor(
    private readonly scenario: Scenario,
    private readonly policy: Policy,
    private readonly options: SimulationOptions,
  ) {
    this.runs = scenario.vjobs.map(newRun);
    this.totalCpu = scenario.nodes.reduce((s, n) => s + (n.capacity.cpu ?? 0), 0);
    this.totalMem = scenario.nodes.reduce((s, n) => s + (n.capacity.mem ?? 0), 0);
  }

  run(): SimulationResult {
    const horizon = this.options.horizonMs ?? DEFAULT_HORIZON_MS;
    let nextTurn = 0;
    const failed = () => this.options.stopOnPolicyError === true && this.policyErrors.length > 0;
    while (this.runs.some((r) => r.state !== 'terminated') && this.t < horizon && !failed()) {
      this.admitSubmissions();
      if (this.event || this.t >= nextTurn) {
        this.event = false;
        const at = this.t;
        this.turn();
        nextTurn = at + this.scenario.controlPeriodMs;
        continue;
      }
      const nextSubmission = Math.min(...this.runs.filter((r) => r.state === 'pending').map((r) => r.spec.submittedAt));
      this.advance(Math.min(nextTurn, nextSubmission, horizon), new Set(), true);
    }
    return this.result();
  }

  private admitSubmissions(): void {
    for (const r of this.runs)
      if (r.state === 'pending' && r.spec.submittedAt <= this.t) {
        r.state = 'waiting';
        this.event = true;
      }
  }

  /** One turn of the control loop: observe, decide, plan, execute. */
  private turn(): void {
    this.turns++;
    const { configuration, usage } = this.observe('peak');
    const view = buildPolicyView(configuration, usage, this.t);
    const { decision, error } = decideSafely(this.policy, view, this.lastGood);
    if (error) this.policyErrors.push(`t=${Math.round(this.t / 1000)}s: ${error.message}`);
    else this.lastGood = decision;
    const sizing: Sizing = this.policy.sizing ?? 'measured';
    const engineConfiguration = sizing === 'peak' ? configuration : this.observe(sizing).configuration;
    const timeLimitMs = this.options.timeLimitMs ?? DEFAULT_SIMULATION_TIME_LIMIT_MS;
    let plan = contextSwitch(engineConfiguration, decision, this.scenario.costModel, { timeLimitMs });
    this.solveMs += plan.solveMs;
    if (!plan.feasible) {
      this.infeasibleTurns++;
      plan = this.cautiousPlan(engineConfiguration, decision, view.queue, timeLimitMs) ?? plan;
    }
    if (plan.feasible && plan.actions.length > 0) this.execute(plan);
  }

  /** The live control loop's fallback when the whole decision does not fit (reconcile/cautious-plan.ts). */
  private cautiousPlan(
    configuration: Configuration,
    decision: Decision,
    queue: readonly QueuedVJob[],
    timeLimitMs: number,
  ): FeasiblePlan | undefined {
    const starts = queue.filter((j) => j.state !== 'running' && decision[j.id] === 'running').map((j) => j.id);
    // The probes only ask whether a decision fits; the one kept is then planned with the improvement.
    const partial = cautiousPlan(starts.length, keepingFirstStarts(decision, starts), (d) => {
      const plan = contextSwitch(configuration, d, this.scenario.costModel, { timeLimitMs, workBudget: 0 });
      this.solveMs += plan.solveMs;
      return plan.feasible ? plan : undefined;
    });
    if (!partial) return undefined;
    const full = contextSwitch(configuration, partial.decision, this.scenario.costModel, { timeLimitMs });
    this.solveMs += full.solveMs;
    return full.feasible ? full : partial.plan;
  }

  /** The configuration a monitor would report, VMs sized at peak or at their current use, and the measured use. */
  private observe(sizing: Sizing): { configuration: Configuration; usage: Record<string, Resources> } {
    const vms: VM[] = [];
    const vjobs: VJob[] = [];
    const usage: Record<string, Resources> = {};
    for (const r of this.runs) {
      if (r.state === 'pending' || r.state === 'terminated') continue;
      const state = r.state;
      r.spec.vms.forEach((vm, i) => {
        const used = phaseCpu(r, i);
        const host = r.hosts[i];
        vms.push({
          id: vm.id,
          vjob: r.spec.id,
          state,
          demand: { cpu: sizing === 'peak' ? vm.cpu : used, mem: vm.mem },
          ...(host !== undefined && state !== 'waiting' ? { host } : {}),
        });
        if (state !== 'waiting') usage[vm.id] = { cpu: used };
      });
      vjobs.push({
        id: r.spec.id,
        vms: r.spec.vms.map((v) => v.id),
        priority: r.spec.priority,
        submittedAt: r.spec.submittedAt,
      });
    }
    return { configuration: { nodes: this.scenario.nodes, vms, vjobs }, usage };
  }

  private execute(plan: FeasiblePlan): void {
    this.switches++;
    this.switchMs += plan.makespan;
    for (const a of plan.actions) this.actions[a.type]++;
    const touched = new Set(plan.actions.map((a) => a.vjob));
    const start = this.t;
    for (const [, to, frozen] of frozenSpans(plan)) this.advance(start + to, frozen, false);
    this.advance(start + plan.makespan, touched, false);
    for (const r of this.runs) {
      if (!touched.has(r.spec.id) || r.state === 'terminated') continue;
      let state: VJobRun['state'] = 'terminated';
      r.spec.vms.forEach((vm, i) => {
        const target = plan.target[vm.id];
        state = target?.state ?? 'terminated';
        r.hosts[i] = target?.host;
      });
      r.state = state;
      // A vjob the decision cancels leaves the cluster: it counts as completed now.
      if (state === 'terminated') r.completedAt ??= this.t;
    }
  }

  /** Advances virtual time to `end`, phase by phase; stops early at a completion when asked. */
  private advance(end: number, frozen: ReadonlySet<string>, stopOnCompletion: boolean): void {
    while (this.t < end - EPSILON) {
      const { rate, cpuUsed, memUsed } = progressOf(this.runs, this.scenario.nodes, frozen);
      let dt = end - this.t;
      for (const [r, speed] of rate) dt = Math.min(dt, (r.spec.phases[r.phase]!.durationMs - r.done) / speed);
      dt = Math.max(0, dt);
      this.record(this.t, this.t + dt, cpuUsed, memUsed);
      this.t += dt;
      let completed = false;
      for (const [r, speed] of rate) {
        r.done += speed * dt;
        while (r.phase < r.spec.phases.length && r.done >= r.spec.phases[r.phase]!.durationMs - EPSILON) {
          r.phase++;
          r.done = 0;
        }
        if (r.phase === r.spec.phases.length) {
          r.state = 'terminated';
          r.completedAt = this.t;
          r.hosts.fill(undefined);
          completed = true;
        }
      }
      if (completed) {
        this.event = true;
        if (stopOnCompletion) return;
      }
    }
    this.t = Math.max(this.t, end);
  }

  private record(start: number, end: number, cpuUsed: number, memUsed: number): void {
    if (end <= start) return;
    const cpu = this.totalCpu > 0 ? cpuUsed / this.totalCpu : 0;
    const mem = this.totalMem > 0 ? memUsed / this.totalMem : 0;
    const last = this.timeline[this.timeline.length - 1];
    if (last && last.end === start && Math.abs(last.cpu - cpu) < 1e-9 && Math.abs(last.mem - mem) < 1e-9)
      this.timeline[this.timeline.length - 1] = { ...last, end };
    else this.timeline.push({ start, end, cpu, mem });
  }

  private result(): SimulationResult {
    const done = this.runs.filter((r) => r.completedAt !== undefined);
    const makespanMs = Math.max(0, ...done.map((r) => r.completedAt!));
    let cpuArea = 0;
    let memArea = 0;
    for (const s of this.timeline) {
      const end = Math.min(s.end, makespanMs);
      if (end > s.start) {
        cpuArea += s.cpu * (end - s.start);
        memArea += s.mem * (end - s.start);
      }
    }
    return {
      scenario: this.scenario.name,
      policy: this.policy.name,
      vjobs: this.runs.map((r) => ({
        id: r.spec.id,
        submittedAt: r.spec.submittedAt,
        ...(r.completedAt !== undefined ? { completedAt: r.completedAt } : {}),
      })),
      cumulatedMs: done.reduce((s, r) => s + r.completedAt! - r.spec.submittedAt, 0),
      makespanMs,
      utilisation: makespanMs > 0 ? cpuArea / makespanMs : 0,
      memUtilisation: makespanMs > 0 ? memArea / makespanMs : 0,
      actions: this.actions,
      switchMs: this.switchMs,
      switches: this.switches,
      turns: this.turns,
      infeasibleTurns: this.infeasibleTurns,
      policyErrors: this.policyErrors,
      solveMs: this.solveMs,
      timeline: this.timeline,
      unfinished: this.runs.filter((r) => r.completedAt === undefined).map((r) => r.spec.id),
    };
  }
}
