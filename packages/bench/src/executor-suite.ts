/**
 * `pnpm bench -- --suites executor`: the executor's overhead on a real nats-server on loopback.
 * N sim agents (the real agent and sim driver, each on its own NATS connection, several per child
 * process) execute zero-duration pause/unpause actions, one per agent per step; the controller side
 * runs in the bench process. A step's overhead is its wall time minus its slowest action's time as
 * the agent measured it. The bare barrier (the same requests through nc.request, no executor) runs
 * alternately with the executor, so the executor's own share is the difference. Then every agent
 * publishes a burst of statuses and the controller's monitor decodes them: messages per second.
 */
import { cpus, loadavg } from 'node:os';
import { table, thousands } from './format.ts';
import {
  type BurstFigures,
  type ClusterFigures,
  type ClusterSpec,
  measureCluster,
  type Mode,
  MODES,
  STATUS_INTERVAL_MS,
  type StepSample,
} from './executor-measure.ts';
import { VMS_PER_NODE } from './executor-layout.ts';
import { withNatsServer } from './executor-processes.ts';
import { DEFAULT_STATUS_AFTER_ACTION_MS } from '../../agent/src/index.ts';
import type { BenchOptions, BenchSuite, SuiteResult } from './suite.ts';

interface Size extends ClusterSpec {
  /** The executor's median per-step overhead must stay under this. */
  readonly targetMs: number;
  /** INFRA.md's raw request/reply barrier, measured on an idle machine with bare responders. */
  readonly infraRawP50: string;
}

const STEPS_PER_PLAN = 2 * VMS_PER_NODE;
const ROUNDS = 10;
const WARMUP_ROUNDS = 5;
const SIZES: readonly Size[] = [
  {
    agents: 11,
    processes: 1,
    prefix: 'bench11',
    stepsPerPlan: STEPS_PER_PLAN,
    rounds: ROUNDS,
    warmupRounds: WARMUP_ROUNDS,
    burstPerAgent: 0,
    targetMs: 5,
    infraRawP50: '2.2',
  },
  {
    agents: 200,
    processes: 4,
    prefix: 'bench200',
    stepsPerPlan: STEPS_PER_PLAN,
    rounds: ROUNDS,
    warmupRounds: WARMUP_ROUNDS,
    burstPerAgent: 100,
    targetMs: 50,
    infraRawP50: '17-22',
  },
];

interface Stats {
  readonly p50: number;
  readonly p95: number;
  readonly max: number;
}

function stats(xs: readonly number[]): Stats {
  const s = [...xs].sort((a, b) => a - b);
  const at = (q: number) => s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))] ?? NaN;
  return { p50: at(0.5), p95: at(0.95), max: s[s.length - 1] ?? NaN };
}

interface ModeFigures {
  readonly steps: number;
  readonly wallMs: Stats;
  readonly overheadMs: Stats;
  readonly meanDriverMs: number;
  /** The controller process's CPU time per step, per-plan verification included. */
  readonly cpuMsPerStep: number;
}

function modeFigures(samples: readonly StepSample[], cpuMsPerStep: number): ModeFigures {
  return {
    steps: samples.length,
    cpuMsPerStep,
    wallMs: stats(samples.map((x) => x.wallMs)),
    overheadMs: stats(samples.map((x) => x.wallMs - x.driverMs)),
    meanDriverMs: samples.reduce((t, x) => t + x.driverMs, 0) / Math.max(1, samples.length),
  };
}

interface SizeVerdict {
  readonly agents: number;
  readonly processes: number;
  readonly startMs?: number;
  readonly modes?: Readonly<Record<Mode, ModeFigures>>;
  /** The executor's first plan after start, cold. */
  readonly cold?: { readonly wallMs: Stats; readonly overheadMs: Stats };
  /** Actions the executor completed per second in its median step. */
  readonly actionsPerSecond?: number;
  readonly burst?: BurstFigures;
  readonly targetMs: number;
  readonly verdict: 'PASS' | 'FAIL';
  readonly why?: string;
}

function judge(size: Size, figures: ClusterFigures | Error): SizeVerdict {
  const base = { agents: size.agents, processes: size.processes, targetMs: size.targetMs };
  if (figures instanceof Error) return { ...base, verdict: 'FAIL', why: figures.message };
  const modes = Object.fromEntries(MODES.map((m) => [m, modeFigures(figures[m], figures.cpuMsPerStep[m])])) as Record<
    Mode,
    ModeFigures
  >;
  const { executor } = modes;
  const pass = executor.overheadMs.p50 < size.targetMs;
  return {
    ...base,
    startMs: figures.startMs,
    cold: {
      wallMs: stats(figures.cold.map((x) => x.wallMs)),
      overheadMs: stats(figures.cold.map((x) => x.wallMs - x.driverMs)),
    },
    modes,
    actionsPerSecond: (size.agents * 1000) / executor.wallMs.p50,
    ...(figures.burst ? { burst: figures.burst } : {}),
    verdict: pass ? 'PASS' : 'FAIL',
    ...(pass ? {} : { why: `median overhead ${f1(executor.overheadMs.p50)} ms >= ${size.targetMs} ms` }),
  };
}

const MODE_LABELS = {
  raw: 'bare request/reply',
  executor: 'executePlan',
  executorNoProgress: 'executePlan, no progress',
  executorJournal: 'executePlan, journaled',
} as const;

const f1 = (x: number) => (Number.isFinite(x) ? x.toFixed(1) : '-');
const f3 = (x: number) => (Number.isFinite(x) ? x.toFixed(3) : '-');

function report(verdicts: readonly SizeVerdict[], load: number): string {
  const header = [
    'agents',
    'mode',
    'steps',
    'step p50 ms',
    'p95',
    'max',
    'overhead p50 ms',
    'p95',
    'max',
    'driver ms (mean)',
    'controller CPU ms/step',
  ];
  const rows = verdicts.flatMap((v) =>
    MODES.flatMap((mode) => {
      const m = v.modes?.[mode];
      if (!m) return [];
      return [
        [
          String(v.agents),
          MODE_LABELS[mode],
          String(m.steps),
          f1(m.wallMs.p50),
          f1(m.wallMs.p95),
          f1(m.wallMs.max),
          f1(m.overheadMs.p50),
          f1(m.overheadMs.p95),
          f1(m.overheadMs.max),
          f3(m.meanDriverMs),
          f1(m.cpuMsPerStep),
        ],
      ];
    }),
  );
  const lines = verdicts.map((v) => {
    const who = `  ${String(v.agents).padStart(3)} agents:`;
    if (!v.modes) return `${who} FAIL (${v.why})`;
    const { raw, executor, executorNoProgress, executorJournal } = v.modes;
    return [
      `${who} executor overhead p50 ${f1(executor.overheadMs.p50)} ms (p95 ${f1(executor.overheadMs.p95)}), target < ${v.targetMs} ms per step  ${v.verdict}${v.why ? ` (${v.why})` : ''}`,
      `      the executor adds ${f1(executor.overheadMs.p50 - raw.overheadMs.p50)} ms to the bare barrier at p50 (${f1(executor.cpuMsPerStep - raw.cpuMsPerStep)} ms of controller CPU per step);` +
        ` ${thousands(Math.round(v.actionsPerSecond!))} actions/s`,
      `      the first plan after start (cold, before the warm-up): overhead p50 ${f1(v.cold!.overheadMs.p50)} ms, max ${f1(v.cold!.overheadMs.max)} ms\n` +
        `      what-if: without progress publication p50 ${f1(executorNoProgress.overheadMs.p50)} ms, ${f1(executorNoProgress.cpuMsPerStep)} ms CPU\n` +
        `      with the plan journal (each intent stored in JetStream before its action leaves, as entropy controller does): p50 ${f1(executorJournal.overheadMs.p50)} ms, ${f1(executorJournal.cpuMsPerStep)} ms CPU`,
    ].join('\n');
  });
  const sizes = SIZES.map(
    (s) => `${s.agents} agents in ${s.processes} child process${s.processes > 1 ? 'es' : ''}`,
  ).join(', ');
  return [
    `executor: step barriers over a real nats-server on loopback (load average ${load.toFixed(1)} on ${cpus().length} cores at the start)`,
    `  agents: the real agent (startAgent, sim driver, zero-duration actions, silent logger), each on its own NATS connection,`,
    `  run in-process: ${sizes}; status every ${STATUS_INTERVAL_MS / 1000} s and ${DEFAULT_STATUS_AFTER_ACTION_MS} ms after actions end. Controller side in`,
    `  the bench process: monitor, natsTransport, executePlan in barrier mode with progress published. Each step pauses (unpauses) one VM`,
    `  per agent, all of one vjob. Step time: from a step's first send to the next step's first send (a plan's last step: to`,
    `  its last result); overhead: step time minus the slowest action's agent-measured time (for agents sharing a process, that`,
    `  time includes waiting for the others). ${ROUNDS} rounds of ${STEPS_PER_PLAN} steps per mode, alternated, after ${WARMUP_ROUNDS}`,
    `  unrecorded rounds: a controller runs for days, and its first plans run cold (JIT); the very first plan is shown apart.`,
    `  Bare request/reply: the same requests through nats.js's nc.request, no executor. What-if: no progress: onEvent`,
    `  publishes nothing.`,
    `  controller CPU ms/step: this process's CPU time per step (monitor and per-plan verification included); it runs on one`,
    `  thread, so it is a floor for the step time even on an idle machine, and other processes' load barely changes it.`,
    '',
    table(header, rows),
    '',
    ...lines,
    `  INFRA.md's raw barrier (idle machine, bare responders): ${SIZES.map((s) => `N=${s.agents} p50 ${s.infraRawP50} ms`).join(', ')}.`,
    ...(load > cpus().length
      ? [
          `  The machine was loaded (load average ${load.toFixed(1)} on ${cpus().length} cores): wall times are inflated, the CPU column much less.`,
        ]
      : []),
    ...verdicts.flatMap((v) => (v.burst ? ['', ...burstReport(v.agents, v.burst)] : [])),
  ].join('\n');
}

function burstReport(agents: number, b: BurstFigures): string[] {
  const bound =
    b.decodeMs > 1.5 * b.publishMs
      ? 'controller-bound: it decoded for longer than the agents published'
      : 'producer-bound: a lower bound of what the controller sustains';
  const lost = b.decoded < b.published ? `; ${thousands(b.published - b.decoded)} not decoded within the wait` : '';
  return [
    `Status burst: ${agents} agents each published ${thousands(b.published / agents)} statuses (${b.statusBytes} bytes, ${VMS_PER_NODE} VMs) in ${f1(b.publishMs)} ms (slowest process);`,
    `  the controller's monitor decoded and recorded ${thousands(b.decoded)} of ${thousands(b.published)} in ${f1(b.decodeMs)} ms: ${thousands(Math.round(b.msgsPerSecond))} msgs/s (${bound})${lost}`,
  ];
}

export const executorSuite: BenchSuite = {
  name: 'executor',
  description:
    'step barrier overhead with 11 and 200 sim agents on a real nats-server; status msgs/s the controller decodes',
  async run(options: BenchOptions): Promise<SuiteResult> {
    const load = loadavg()[0]!;
    const verdicts = await withNatsServer(async (server) => {
      const out: SizeVerdict[] = [];
      for (const size of SIZES) {
        const figures = await measureCluster(server.url, size, options.progress).catch((err: Error) => err);
        out.push(judge(size, figures));
      }
      return out;
    }).catch((err: Error) => SIZES.map((size) => judge(size, err)));
    return {
      text: report(verdicts, load),
      summary: {
        loadAverage: load,
        stepsPerPlan: STEPS_PER_PLAN,
        rounds: ROUNDS,
        warmupRounds: WARMUP_ROUNDS,
        sizes: verdicts,
      },
      ok: verdicts.every((v) => v.verdict === 'PASS'),
    };
  },
};
