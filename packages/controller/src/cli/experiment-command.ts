import { existsSync } from 'node:fs';
import { workspacePath } from '../workspace.ts';
import { firstLine, loadPolicy } from '../policy/load-policy.ts';
import {
  parseScenario,
  PolicyError,
  PolicyErrorCode,
  type Scenario,
  simulate,
  type SimulationResult,
} from '@entropy/engine';
import { plotUse } from '../svg/svg-plot.ts';
import { type CommandResult, readJsonFile, writeTextFile } from '../command-io/io.ts';

export interface ExperimentCommandOptions {
  readonly json?: boolean;
  /** Where to write the SVG plot of resource use over time. */
  readonly plot?: string;
  /** Policies to compare (built-in names or module paths); default fcfs and fifo-ffd. */
  readonly policies?: readonly string[];
  /** The engine's time budget per turn, in ms. */
  readonly timeLimit?: number;
}

export const DEFAULT_EXPERIMENT_POLICIES = ['fcfs', 'fifo-ffd'] as const;
const SCENARIO_DIR = workspacePath('examples/scenarios/');

/** The figures of one policy, as printed by `--json`. */
export interface ExperimentFigures {
  readonly cumulatedMinutes: number;
  readonly makespanMinutes: number;
  readonly utilisation: number;
  readonly memUtilisation: number;
  readonly actions: Readonly<Record<string, number>>;
  readonly switchMinutes: number;
  readonly switches: number;
  readonly infeasibleTurns: number;
  readonly solveMs: number;
  readonly unfinished: readonly string[];
}

/**
 * `entropy experiment reference|large|FILE`: simulates the scenario once per policy and prints
 * their figures side by side (or as JSON keyed by policy), optionally writing an SVG plot.
 */
export async function experimentCommand(
  scenarioArg: string,
  options: ExperimentCommandOptions = {},
): Promise<CommandResult> {
  const file = scenarioFile(scenarioArg);
  const scenario = parseScenario(readJsonFile(file), file);
  const names = options.policies && options.policies.length > 0 ? options.policies : DEFAULT_EXPERIMENT_POLICIES;
  const results: SimulationResult[] = [];
  // A policy that does not load is a PolicyError: one line on stderr, exit 1 (main.ts).
  // A policy that fails stops its simulation: the live loop would go on with its last good decision, but the
  // figures of a policy that did not decide would compare nothing.
  for (const name of names) {
    const r = simulate(scenario, await loadPolicy(name), {
      stopOnPolicyError: true,
      ...(options.timeLimit ? { timeLimitMs: options.timeLimit } : {}),
    });
    if (r.policyErrors.length > 0)
      throw new PolicyError(
        PolicyErrorCode.PolicyFailed,
        `policy ${name} failed at ${firstLine(r.policyErrors[0])}: no figures`,
      );
    results.push(r);
  }
  if (options.plot) {
    writeTextFile(
      options.plot,
      plotUse(results, `${scenario.name}: cluster use over time, ${results.map((r) => r.policy).join(' vs ')}`),
    );
  }
  const figures = Object.fromEntries(results.map((r) => [r.policy, figuresOf(r)]));
  const output = options.json ? JSON.stringify(figures, null, 2) : formatExperiment(scenario, results, options.plot);
  return { output, exitCode: results.some((r) => r.unfinished.length > 0) ? 2 : 0 };
}

/** A bundled scenario by name (`reference`, `large`, `tiny`), else a file path. */
export function scenarioFile(nameOrPath: string): string {
  const bundled = `${SCENARIO_DIR}${nameOrPath}.json`;
  return /^[a-z0-9-]+$/i.test(nameOrPath) && existsSync(bundled) ? bundled : nameOrPath;
}

export function figuresOf(r: SimulationResult): ExperimentFigures {
  const round = (x: number, digits = 2) => Math.round(x * 10 ** digits) / 10 ** digits;
  return {
    cumulatedMinutes: round(r.cumulatedMs / 60_000),
    makespanMinutes: round(r.makespanMs / 60_000),
    utilisation: round(r.utilisation, 3),
    memUtilisation: round(r.memUtilisation, 3),
    actions: { ...r.actions },
    switchMinutes: round(r.switchMs / 60_000),
    switches: r.switches,
    infeasibleTurns: r.infeasibleTurns,
    solveMs: Math.round(r.solveMs),
    unfinished: r.unfinished,
  };
}

function formatExperiment(scenario: Scenario, results: readonly SimulationResult[], plot?: string): string {
  const vms = scenario.vjobs.reduce((s, j) => s + j.vms.length, 0);
  const lines = [
    `${scenario.name}: ${scenario.nodes.length} nodes, ${scenario.vjobs.length} vjobs, ${vms} VMs, control loop every ${scenario.controlPeriodMs / 1000} s`,
    '',
  ];
  const min = (ms: number) => (ms / 60_000).toFixed(1);
  const pct = (x: number) => `${Math.round(x * 100)}%`;
  const types = [
    ...new Set(
      results.flatMap((r) =>
        Object.entries(r.actions)
          .filter(([, n]) => n > 0)
          .map(([t]) => t),
      ),
    ),
  ];
  const base = results[0]!;
  const rows: [string, ...string[]][] = [
    ['', ...results.map((r) => r.policy)],
    [
      'cumulated execution time (min)',
      ...results.map(
        (r, i) =>
          min(r.cumulatedMs) + (i > 0 && base.cumulatedMs > 0 ? ` (${change(r.cumulatedMs, base.cumulatedMs)})` : ''),
      ),
    ],
    ['makespan (min)', ...results.map((r) => min(r.makespanMs))],
    ['mean node CPU utilisation', ...results.map((r) => pct(r.utilisation))],
    ['mean memory held', ...results.map((r) => pct(r.memUtilisation))],
    ...types.map((t): [string, ...string[]] => [
      `actions: ${t}`,
      ...results.map((r) => String(r.actions[t as keyof typeof r.actions] ?? 0)),
    ]),
    ['context switches', ...results.map((r) => String(r.switches))],
    ['time in context switches (min)', ...results.map((r) => (r.switchMs / 60_000).toFixed(2))],
    ['engine solve time (ms, real)', ...results.map((r) => String(Math.round(r.solveMs)))],
  ];
  if (results.some((r) => r.infeasibleTurns > 0))
    rows.push(['turns the engine could not place', ...results.map((r) => String(r.infeasibleTurns))]);
  if (results.some((r) => r.unfinished.length > 0))
    rows.push(['unfinished vjobs', ...results.map((r) => String(r.unfinished.length))]);
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((row) => row[c]!.length)));
  for (const row of rows)
    lines.push(row.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]! + 2))).join(''));
  if (plot) lines.push('', `plot written to ${plot}`);
  return lines.join('\n');
}

function change(value: number, base: number): string {
  const p = Math.round((value / base - 1) * 1000) / 10;
  return `${p > 0 ? '+' : ''}${p}%`;
}
