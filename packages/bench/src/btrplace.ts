import { fileURLToPath } from 'node:url';
import type { WorkloadOptions } from '@entropy/engine';
import { sharedInstances, sharedInstancesDir } from '@entropy/test-support/shared-instances.ts';
import { median, ms, table, thousands } from './format.ts';
import { runMeasurementChild } from './measure-child.ts';
import type { BenchOptions, BenchSuite, SuiteResult } from './suite.ts';

export interface BtrPlaceTask {
  readonly label: string;
  readonly kind: 'shared' | 'generated';
  readonly file?: string;
  readonly generate?: WorkloadOptions;
  readonly repeat: number;
  readonly timeLimitMs?: number;
}

export interface BtrPlaceMeasurement extends BtrPlaceTask {
  readonly nodes: number;
  readonly vms: number;
  readonly constraints: number;
  readonly readMs: number;
  readonly importMs: number;
  /** Median wall time of contextSwitch over the repeats. */
  readonly solveMs: number;
  readonly baseRssMiB: number;
  readonly peakRssMiB: number;
  readonly feasible: boolean;
  readonly reason?: string;
  readonly actions?: Readonly<Record<string, number>>;
  /** BtrPlace's objective, in its time units (the sum of the actions' end times). */
  readonly mttr?: number;
  readonly makespan?: number;
  readonly verified?: string;
  readonly verifyMs?: number;
}

type Outcome = BtrPlaceMeasurement | (BtrPlaceTask & { readonly error: string });

/** Each shared instance must be solved (plan verified) within this, on one core. */
const TARGET_MS = 3_000;
const CHILD = fileURLToPath(new URL('./btrplace-child.ts', import.meta.url));

/** Generated workloads of the published kinds (see src/btrplace/generate-workload.ts), one per seed. */
const GENERATED: readonly Omit<WorkloadOptions, 'seed'>[] = [
  { scenario: 'li', nodes: 5_000, vms: 15_000, constrained: 0 },
  { scenario: 'li', nodes: 5_000, vms: 20_000, constrained: 0.66 },
  { scenario: 'nr', nodes: 5_000, vms: 15_000, constrained: 0.33 },
];

function runChild(task: BtrPlaceTask): Promise<Outcome> {
  return runMeasurementChild<BtrPlaceTask, BtrPlaceMeasurement>(CHILD, task, 300_000);
}

const TYPES = ['migrate', 'run', 'stop', 'suspend', 'resume', 'bootNode', 'shutdownNode'];

function report(outcomes: readonly Outcome[], verdicts: readonly string[]): string {
  const header = [
    'instance',
    'nodes',
    'VMs',
    'constraints',
    'import ms',
    'solve ms',
    'peak MiB',
    'MTTR',
    'makespan',
    ...TYPES,
    'verified',
  ];
  const rows = outcomes.map((o) => {
    if ('error' in o) return [o.label, ...header.slice(1, -1).map(() => '-'), `ERROR ${o.error}`];
    const count = (t: string) => String(o.actions?.[t] ?? (o.feasible ? 0 : '-'));
    return [
      o.label,
      thousands(o.nodes),
      thousands(o.vms),
      thousands(o.constraints),
      ms(o.readMs + o.importMs),
      ms(o.solveMs),
      o.peakRssMiB.toFixed(0),
      o.mttr === undefined ? '-' : thousands(o.mttr),
      o.makespan === undefined ? '-' : String(o.makespan),
      ...TYPES.map(count),
      o.feasible ? `${o.verified} (${ms(o.verifyMs ?? NaN)} ms)` : `INFEASIBLE: ${o.reason}`,
    ];
  });
  return [
    "btrplace: BtrPlace instances (TDSC'13 workloads: li = load increase, nr = node repair, cNN = % of VMs under spread/among)",
    '          imported, planned with every constraint and objective minimizeMTTR, verified with every constraint.',
    '          MTTR and makespan in BtrPlace time units (durations from the instance attributes, 1 when none);',
    '          "import ms" includes reading and gunzipping; peak MiB is the maxRSS of the process.',
    '',
    table(header, rows),
    '',
    "  BtrPlace's published figures (Hermenier, Lawall, Muller, IEEE TDSC 2013, Java + Choco): 5,000 servers and",
    '  30,000 VMs repaired in about 3 minutes; under 30 s with 2,500-server partitions.',
    ...verdicts,
  ].join('\n');
}

export const btrplaceSuite: BenchSuite = {
  name: 'btrplace',
  description:
    "BtrPlace's published workloads (shared instances and generated ones): solve time, memory, MTTR, actions, verification",
  sizes: [
    'shared (the instances of ../shared/btrplace, target < 3 s each)',
    'generated (li/nr workloads at 5,000 nodes, one per seed)',
  ],
  async run(options: BenchOptions): Promise<SuiteResult> {
    const want = (name: string) => !options.sizes || options.sizes.includes(name);
    const tasks: BtrPlaceTask[] = [];
    const common = {
      repeat: options.repeat,
      ...(options.timeLimitMs !== undefined ? { timeLimitMs: options.timeLimitMs } : {}),
    };
    if (want('shared')) {
      if (!sharedInstancesDir())
        options.progress('btrplace: ../shared/btrplace is absent beside the repository; shared instances skipped');
      for (const file of sharedInstances())
        tasks.push({
          label: file
            .split('/')
            .pop()!
            .replace(/\.json(\.gz)?$/, ''),
          kind: 'shared',
          file,
          ...common,
        });
    }
    if (want('generated')) {
      for (const g of GENERATED) {
        for (const seed of options.seeds) {
          tasks.push({
            label: `gen ${g.scenario}-c${Math.round(g.constrained * 100)} s${seed}`,
            kind: 'generated',
            generate: { ...g, seed },
            ...common,
          });
        }
      }
    }
    const outcomes: Outcome[] = [];
    for (const task of tasks) {
      const started = performance.now();
      const outcome = await runChild(task);
      options.progress(
        `btrplace ${task.label}: ${'error' in outcome ? 'ERROR' : 'done'} in ${((performance.now() - started) / 1000).toFixed(1)} s`,
      );
      outcomes.push(outcome);
    }
    const failures = outcomes.filter((o) => 'error' in o || !o.feasible || o.verified !== 'yes');
    const shared = outcomes.filter((o): o is BtrPlaceMeasurement => o.kind === 'shared' && !('error' in o));
    const slow = shared.filter((o) => !(o.solveMs < TARGET_MS));
    const verdicts = [
      '',
      shared.length > 0
        ? `  shared instances: median solve ${ms(median(shared.map((o) => o.solveMs)))} ms, slowest ${ms(Math.max(...shared.map((o) => o.solveMs)))} ms (target < ${TARGET_MS / 1000} s each)  ${slow.length === 0 ? 'PASS' : `FAIL (${slow.map((o) => o.label).join(', ')})`}`
        : '  shared instances: none found (no verdict)',
      ...(failures.length > 0 ? [`  ${failures.length} run(s) failed, were infeasible or did not verify: FAIL`] : []),
    ];
    return {
      text: report(outcomes, verdicts),
      summary: { targetMs: TARGET_MS, outcomes },
      ok: failures.length === 0 && slow.length === 0,
    };
  },
};
