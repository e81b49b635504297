/** What every bench suite receives: the command line, parsed once by run.ts. */
export interface BenchOptions {
  /** Size names to run (suites that have sizes); undefined means each suite's defaults. */
  readonly sizes?: readonly string[];
  readonly seeds: readonly number[];
  /** Runs per measurement; the table shows the median. */
  readonly repeat: number;
  /** Time budget passed to the engine's improvement phases, if any. */
  readonly timeLimitMs?: number;
  /** Progress lines, printed on stderr so that `--json` keeps stdout clean. */
  readonly progress: (line: string) => void;
}

export interface SuiteResult {
  /** The human report: tables and verdicts. */
  readonly text: string;
  /** The machine report printed under the suite's name by `--json`. */
  readonly summary: unknown;
  /** False when a measurement missed its target or failed; the bench then exits 1. */
  readonly ok: boolean;
}

/** One named benchmark. A new suite is one module and one line in SUITES (suites.ts). */
export interface BenchSuite {
  readonly name: string;
  readonly description: string;
  /** Size names this suite understands, shown by `--help`. */
  readonly sizes?: readonly string[];
  /** Runs only when named in --suites (it needs root, or takes minutes). */
  readonly onRequest?: boolean;
  run(options: BenchOptions): Promise<SuiteResult>;
}
