import { fileURLToPath } from 'node:url';
import { ACTION_TYPES, type SolverStats } from '@entropy/engine';
import { DEFAULT_NODE_CLASSES, type NodeClass } from '@entropy/test-support/generate-instance.ts';
import { median, ms, secondsOf, table, thousands } from './format.ts';
import { runMeasurementChild } from './measure-child.ts';
import type { BenchOptions, BenchSuite, SuiteResult } from './suite.ts';

export interface EngineSize {
  readonly name: string;
  readonly nodes: number;
  readonly vms: number;
  /** Median wall time of the context switch must stay under this, when set. */
  readonly targetMs?: number;
  /** Peak memory of the run must stay under this, when set. */
  readonly targetMiB?: number;
  readonly nodeClasses: readonly NodeClass[];
}

// Six VMs per node leave too few VMs to load big nodes: the large size draws smaller nodes.
const SMALL_NODES_FIRST: readonly NodeClass[] = [
  { cpu: 8, mem: 16 * 1024, weight: 6 },
  { cpu: 16, mem: 32 * 1024, weight: 3 },
  { cpu: 32, mem: 64 * 1024, weight: 1 },
];

export const ENGINE_SIZES: readonly EngineSize[] = [
  { name: 'small', nodes: 100, vms: 1_000, nodeClasses: DEFAULT_NODE_CLASSES },
  { name: 'medium', nodes: 1_000, vms: 10_000, targetMs: 500, nodeClasses: DEFAULT_NODE_CLASSES },
  { name: 'large', nodes: 5_000, vms: 30_000, targetMs: 1_000, nodeClasses: SMALL_NODES_FIRST },
  { name: 'huge', nodes: 20_000, vms: 200_000, targetMs: 5_000, targetMiB: 2_048, nodeClasses: DEFAULT_NODE_CLASSES },
];

/** Source load per seed, cycling, so that three seeds span the 60-85% range. */
const LOADS = [0.65, 0.75, 0.85];
const CHILD_TIMEOUT_MS = 180_000;

export interface EngineTask {
  readonly size: string;
  readonly nodes: number;
  readonly vms: number;
  readonly seed: number;
  readonly load: number;
  readonly nodeClasses: readonly NodeClass[];
  readonly repeat: number;
  readonly timeLimitMs?: number;
}

export type Verification =
  | { readonly status: 'ok'; readonly ms: number }
  | { readonly status: 'failed'; readonly ms: number; readonly detail: string }
  | { readonly status: 'n/a'; readonly detail: string };

export interface EngineMeasurement extends EngineTask {
  readonly sourceLoad: number;
  readonly targetLoad: number;
  readonly overloadedNodes: number;
  readonly changedVjobs: number;
  readonly generateMs: number;
  /** Medians over `repeat` runs: the engine's own figure and the wall time around the call. */
  readonly solveMs: number;
  readonly wallMs: number;
  readonly peakRssMiB: number;
  /** RSS before the instance exists: Node, tsx and the loaded modules. */
  readonly baseRssMiB: number;
  readonly feasible: boolean;
  readonly reason?: string;
  readonly actions?: Readonly<Record<string, number>>;
  readonly steps?: number;
  readonly makespan?: number;
  readonly sumCompletion?: number;
  readonly stats?: SolverStats;
  readonly verification: Verification;
}

type Outcome = EngineMeasurement | (EngineTask & { readonly error: string });

const CHILD = fileURLToPath(new URL('./engine-child.ts', import.meta.url));

function runChild(task: EngineTask): Promise<Outcome> {
  return runMeasurementChild<EngineTask, EngineMeasurement>(CHILD, task, CHILD_TIMEOUT_MS);
}

function verificationCell(v: Verification): string {
  if (v.status === 'ok') return `yes ${ms(v.ms)} ms`;
  if (v.status === 'failed') return `NO ${ms(v.ms)} ms`;
  return 'n/a';
}

interface SizeVerdict {
  readonly size: string;
  readonly medianWallMs: number;
  readonly medianSolveMs: number;
  readonly targetMs?: number;
  readonly verdict: 'PASS' | 'FAIL' | '-';
  readonly why?: string;
}

function judge(size: EngineSize, outcomes: readonly Outcome[]): SizeVerdict {
  const done = outcomes.filter((o): o is EngineMeasurement => !('error' in o));
  const medianWallMs = median(done.map((m) => m.wallMs));
  const medianSolveMs = median(done.map((m) => m.solveMs));
  const problems: string[] = [];
  if (done.length < outcomes.length) problems.push(`${outcomes.length - done.length} run(s) crashed`);
  if (done.some((m) => !m.feasible)) problems.push('infeasible plan');
  if (done.some((m) => m.verification.status === 'failed')) problems.push('plan failed verification');
  if (size.targetMs !== undefined && !(medianWallMs < size.targetMs))
    problems.push(`median ${ms(medianWallMs)} ms >= ${size.targetMs} ms`);
  if (size.targetMiB !== undefined && done.some((m) => m.peakRssMiB >= size.targetMiB!))
    problems.push(`peak memory >= ${size.targetMiB} MiB`);
  const verdict = problems.length > 0 ? 'FAIL' : size.targetMs === undefined ? '-' : 'PASS';
  return {
    size: size.name,
    medianWallMs,
    medianSolveMs,
    targetMs: size.targetMs,
    verdict,
    ...(problems.length ? { why: problems.join(', ') } : {}),
  };
}

function report(sizes: readonly EngineSize[], outcomes: readonly Outcome[], verdicts: readonly SizeVerdict[]): string {
  const types = ACTION_TYPES;
  const header = [
    'size',
    'seed',
    'load',
    'solve ms',
    'wall ms',
    'peak MiB',
    'base MiB',
    ...types,
    'steps',
    'makespan s',
    'sum compl. s',
    'first cost',
    'cost',
    'bound',
    'gain',
    'search',
    'feasible',
    'verified',
  ];
  const rows = outcomes.map((o) => {
    const size = sizes.find((s) => s.name === o.size)!;
    const label = `${o.size} ${thousands(size.nodes)}/${thousands(size.vms)}`;
    if ('error' in o)
      return [
        label,
        String(o.seed),
        '-',
        '-',
        '-',
        '-',
        '-',
        ...types.map(() => '-'),
        '-',
        '-',
        '-',
        '-',
        '-',
        '-',
        '-',
        '-',
        'ERROR',
        '-',
      ];
    const st = o.stats;
    return [
      label,
      String(o.seed),
      `${Math.round(o.sourceLoad * 100)}%`,
      ms(o.solveMs),
      ms(o.wallMs),
      o.peakRssMiB.toFixed(0),
      o.baseRssMiB.toFixed(0),
      ...types.map((t) => String(o.actions?.[t] ?? (o.feasible ? 0 : '-'))),
      String(o.steps ?? '-'),
      secondsOf(o.makespan ?? NaN),
      secondsOf(o.sumCompletion ?? NaN),
      st ? thousands(Math.round(st.firstCost)) : '-',
      st ? thousands(Math.round(st.finalCost)) : '-',
      st?.lowerBound !== undefined ? thousands(Math.round(st.lowerBound)) : '-',
      st ? `${st.firstCost > 0 ? ((100 * (st.firstCost - st.finalCost)) / st.firstCost).toFixed(1) : '0.0'}%` : '-',
      st
        ? `${st.method}${st.method === 'neighbourhoods' ? ` ${st.neighbourhoods}` : ''}, ${st.stoppedBy}${st.optimal ? ', optimal' : ''}`
        : '-',
      o.feasible ? 'yes' : 'NO',
      verificationCell(o.verification),
    ];
  });
  const notes = outcomes.flatMap((o) => {
    if ('error' in o) return [`  ${o.size} seed ${o.seed}: ${o.error}`];
    const lines: string[] = [];
    if (!o.feasible) lines.push(`  ${o.size} seed ${o.seed}: infeasible: ${o.reason}`);
    if (o.verification.status === 'failed')
      lines.push(`  ${o.size} seed ${o.seed}: verification failed: ${o.verification.detail}`);
    return lines;
  });
  const naReasons = [
    ...new Set(
      outcomes.flatMap((o) =>
        'error' in o || o.verification.status !== 'n/a' || !o.feasible ? [] : [o.verification.detail],
      ),
    ),
  ];
  const targets = verdicts.map((v) => {
    const size = sizes.find((x) => x.name === v.size);
    const target =
      v.targetMs === undefined
        ? 'no target'
        : `target < ${secondsOf(v.targetMs)} s${size?.targetMiB ? ` and ${size.targetMiB} MiB` : ''}`;
    return `  ${v.size.padEnd(7)} median wall ${ms(v.medianWallMs).padStart(6)} ms, median solveMs ${ms(v.medianSolveMs).padStart(6)} ms  (${target})  ${v.verdict}${v.why ? ` (${v.why})` : ''}`;
  });
  return [
    'engine: contextSwitch on generated instances (one process per run; times are medians of the repeats;',
    '        peak MiB = maxRSS of the run, base MiB = RSS before generating the instance;',
    "        first cost / cost = placement cost (MiB migrated, suspended, resumed) of the repair's placement and of the plan,",
    '        bound = proven lower bound, gain = what the improvement took off the first cost)',
    '',
    table(header, rows),
    ...(notes.length ? ['', ...notes] : []),
    ...(naReasons.length ? ['', `  verified n/a: ${naReasons.join('; ')}`] : []),
    '',
    ...targets,
  ].join('\n');
}

export const engineSuite: BenchSuite = {
  name: 'engine',
  description: 'contextSwitch on generated instances: solve time, peak memory, plan size and quality, verification',
  sizes: ENGINE_SIZES.map(
    (s) =>
      `${s.name} (${thousands(s.nodes)} nodes / ${thousands(s.vms)} VMs${s.targetMs ? `, target < ${s.targetMs / 1000} s` : ''})`,
  ),
  async run(options: BenchOptions): Promise<SuiteResult> {
    const sizes = options.sizes ? ENGINE_SIZES.filter((s) => options.sizes!.includes(s.name)) : ENGINE_SIZES;
    const outcomes: Outcome[] = [];
    const verdicts: SizeVerdict[] = [];
    for (const size of sizes) {
      const mine: Outcome[] = [];
      for (const [i, seed] of options.seeds.entries()) {
        const task: EngineTask = {
          size: size.name,
          nodes: size.nodes,
          vms: size.vms,
          seed,
          load: LOADS[i % LOADS.length]!,
          nodeClasses: size.nodeClasses,
          repeat: options.repeat,
          ...(options.timeLimitMs !== undefined ? { timeLimitMs: options.timeLimitMs } : {}),
        };
        const started = performance.now();
        const outcome = await runChild(task);
        options.progress(
          `engine ${size.name} seed ${seed}: ${'error' in outcome ? 'ERROR' : 'done'} in ${secondsOf(performance.now() - started)} s`,
        );
        mine.push(outcome);
      }
      outcomes.push(...mine);
      verdicts.push(judge(size, mine));
    }
    return {
      text: report(sizes, outcomes, verdicts),
      summary: { sizes: verdicts, runs: outcomes },
      ok: verdicts.every((v) => v.verdict !== 'FAIL'),
    };
  },
};
