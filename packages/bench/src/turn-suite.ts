import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { median, ms, secondsOf, table, thousands } from './format.ts';
import { runMeasurementChild } from './measure-child.ts';
import type { BenchOptions, BenchSuite, SuiteResult } from './suite.ts';
import type { TurnClusterSpec } from './turn-cluster.ts';

/** The parts of a control-loop turn, in the order the controller runs them, and the replies it serves meanwhile. */
export const TURN_PARTS = [
  'observe',
  'view',
  'reconcile',
  'schedulable',
  'observedChange',
  'policyView',
  'decide',
  'sizing',
  'engine',
  'verify',
  /** The loop's own pure turn, `reconcile()`: policy, holds, decision, the engine's solve. */
  'reconcileFn',
  'statusReply',
  'queueReply',
  'fcfs',
  'consolidate',
] as const;
export type TurnPart = (typeof TURN_PARTS)[number];

export interface TurnSize {
  readonly name: string;
  readonly description: string;
  readonly cluster: Omit<TurnClusterSpec, 'seed'>;
}

// 1,000 nodes of 100 VMs each; 5 waiting vjobs of 100 VMs start: the engine's change is small.
export const TURN_SIZES: readonly TurnSize[] = [
  {
    name: 'vjobs100',
    description: '1,000 nodes / 100,000 VMs in vjobs of 100',
    cluster: { nodes: 1_000, vms: 100_000, vjobSize: 100, waiting: 5 },
  },
  {
    name: 'vjob20k',
    description: '1,000 nodes / 100,000 VMs, one vjob of 20,000',
    cluster: { nodes: 1_000, vms: 100_000, leading: [20_000], vjobSize: 100, waiting: 5 },
  },
];

/** A turn's controller time, the engine's solve excluded, must stay under this. */
export const TURN_TARGET_MS = 1_000;
const CHILD_TIMEOUT_MS = 900_000;

export interface TurnTask {
  readonly size: string;
  readonly cluster: TurnClusterSpec;
  readonly repeat: number;
  readonly timeLimitMs?: number;
}

export interface TurnMeasurement extends TurnTask {
  readonly nodes: number;
  readonly vms: number;
  readonly vjobs: number;
  /** Median milliseconds of each part over the repeats: wall time, and the process's CPU time (GC threads included). */
  readonly ms: Readonly<Record<TurnPart, number>>;
  readonly cpuMs: Readonly<Record<TurnPart, number>>;
  readonly feasible: boolean;
  readonly reason?: string;
  /** Waiting vjobs the policy starts. */
  readonly starts: number;
  readonly actions: Readonly<Record<string, number>>;
  readonly statusBytes: number;
  readonly statusChunks: number;
  readonly queueBytes: number;
  readonly peakRssMiB: number;
}

type Outcome = TurnMeasurement | (TurnTask & { readonly error: string });

const CHILD = fileURLToPath(new URL('./turn-child.ts', import.meta.url));

/**
 * What a turn costs the controller besides the engine: the loop takes a view, reconciles the queue
 * (a second view only when that changed the registry), then runs the policy and verifies the plan
 * (assertExecutable).
 */
export function turnMs(m: TurnMeasurement['ms']): number {
  return m.view + m.reconcile + m.schedulable + m.policyView + m.decide + m.sizing + m.verify;
}

/** The turn the controller runs: a view, the queue store's reconcile, `reconcile()` and the verifier, less the engine's solve. */
export function loopTurnMs(m: TurnMeasurement['ms']): number {
  return m.view + m.reconcile + Math.max(0, m.reconcileFn - m.engine) + m.verify;
}

const mib = (bytes: number) => (bytes / 1024 / 1024).toFixed(1);

function report(outcomes: readonly Outcome[]): string {
  const header = [
    'size',
    'seed',
    'view',
    'reconcile',
    'sched.',
    'observed',
    'pol. view',
    'decide',
    'sizing',
    'verify',
    'turn',
    'turn cpu',
    'reconcile()',
    'loop turn',
    'engine',
    'status enc.',
    'status MiB',
    'chunks',
    'queue enc.',
    'queue MiB',
    'fcfs',
    'consol.',
    'peak MiB',
  ];
  const rows = outcomes.map((o) => {
    if ('error' in o) return [o.size, String(o.cluster.seed), ...header.slice(2).map(() => '-')];
    const m = o.ms;
    return [
      o.size,
      String(o.cluster.seed),
      ms(m.view),
      ms(m.reconcile),
      ms(m.schedulable),
      ms(m.observedChange),
      ms(m.policyView),
      ms(m.decide),
      ms(m.sizing),
      ms(m.verify),
      ms(turnMs(m)),
      ms(turnMs(o.cpuMs)),
      ms(m.reconcileFn),
      ms(loopTurnMs(m)),
      ms(m.engine),
      ms(m.statusReply),
      mib(o.statusBytes),
      String(o.statusChunks),
      ms(m.queueReply),
      mib(o.queueBytes),
      ms(m.fcfs),
      ms(m.consolidate),
      o.peakRssMiB.toFixed(0),
    ];
  });
  const notes = outcomes.flatMap((o) => {
    if ('error' in o) return [`  ${o.size} seed ${o.cluster.seed}: ${o.error}`];
    const acts =
      Object.entries(o.actions)
        .map(([t, n]) => `${n} ${t}`)
        .join(', ') || 'none';
    return [
      `  ${o.size}: ${thousands(o.nodes)} nodes, ${thousands(o.vms)} VMs, ${thousands(o.vjobs)} vjobs; ${o.starts} vjobs started; plan ${o.feasible ? acts : `infeasible: ${o.reason}`}`,
    ];
  });
  const verdicts = TURN_SIZES.flatMap((size) => {
    const done = outcomes.filter((o): o is TurnMeasurement => o.size === size.name && !('error' in o));
    if (done.length === 0) return [];
    const turn = median(done.map((o) => loopTurnMs(o.ms)));
    const cpu = median(done.map((o) => loopTurnMs(o.cpuMs)));
    const engine = median(done.map((o) => o.ms.engine));
    return [
      `  ${size.name.padEnd(8)} loop turn ${ms(turn).padStart(5)} ms (cpu ${ms(cpu)} ms) without the engine (target < ${secondsOf(TURN_TARGET_MS)} s) ${turn < TURN_TARGET_MS ? 'PASS' : 'FAIL'}; engine solve ${ms(engine)} ms (no target)`,
    ];
  });
  return [
    'turn: one control-loop turn on a synthetic cluster, in one process (ms of wall time, medians of the repeats)',
    '      turn = view + reconcile + sched. (schedulable, cancelling) + pol. view + decide (fifo-ffd) + sizing + verify',
    '      (a second view when reconcile changed the queue); turn cpu = the same parts in CPU time of the process;',
    "      reconcile() = the loop's pure turn (policy, holds, decision, engine); loop turn = view + reconcile + reconcile() + verify - engine;",
    '      observed = the queue watch (every status period), status/queue enc. = building and encoding the reply;',
    "      fcfs, consol. = the other built-in policies' decide on the same policy view (not in the turn);",
    `      chunks = messages of at most 1 MiB less 1 KiB (then the sentinel); load average when done: ${loadavg()
      .map((l) => l.toFixed(1))
      .join(' ')}`,
    '',
    table(header, rows),
    '',
    ...notes,
    '',
    ...verdicts,
  ].join('\n');
}

export const turnSuite: BenchSuite = {
  name: 'turn',
  description:
    "a control-loop turn's controller time per part (monitor view, queue, policy, engine, verifier) and the status reply's size",
  sizes: TURN_SIZES.map((s) => `${s.name} (${s.description}, target < ${TURN_TARGET_MS / 1000} s without the engine)`),
  async run(options: BenchOptions): Promise<SuiteResult> {
    const sizes = options.sizes ? TURN_SIZES.filter((s) => options.sizes!.includes(s.name)) : TURN_SIZES;
    const outcomes: Outcome[] = [];
    // One seed: the cluster's shape, not its random measured use, sets the cost.
    const seed = options.seeds[0] ?? 1;
    for (const size of sizes) {
      const task: TurnTask = {
        size: size.name,
        cluster: { ...size.cluster, seed },
        repeat: options.repeat,
        ...(options.timeLimitMs !== undefined ? { timeLimitMs: options.timeLimitMs } : {}),
      };
      const started = performance.now();
      const outcome = await runMeasurementChild<TurnTask, TurnMeasurement>(CHILD, task, CHILD_TIMEOUT_MS);
      options.progress(
        `turn ${size.name}: ${'error' in outcome ? 'ERROR' : 'done'} in ${secondsOf(performance.now() - started)} s`,
      );
      outcomes.push(outcome);
    }
    const ok = outcomes.every((o) => !('error' in o) && o.feasible && loopTurnMs(o.ms) < TURN_TARGET_MS);
    return { text: report(outcomes), summary: { runs: outcomes }, ok };
  },
};
