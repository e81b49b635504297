/**
 * `pnpm bench`: runs the bench suites of SUITES (suites.ts) and prints their reports.
 * Every measurement runs in its own child process; see --help.
 */
import { parseArgs } from 'node:util';
import type { BenchOptions } from './suite.ts';
import { SUITES } from './suites.ts';

const DEFAULT_SEEDS = [1, 2, 3];
const DEFAULT_REPEAT = 3;

function help(): string {
  const suites = SUITES.map((s) => {
    const sizes = s.sizes?.map((z) => `      ${z}`) ?? [];
    return [
      `  ${s.name.padEnd(8)} ${s.description}${s.onRequest ? ' (only when named)' : ''}`,
      ...(sizes.length ? ['    sizes:', ...sizes] : []),
    ].join('\n');
  });
  return `Usage: pnpm bench [-- options]

Generates seeded random instances (packages/test-support/src/generate-instance.ts) and measures each suite on
them, one child process per instance so that peak memory (maxRSS) is per instance. Source load
cycles over 65%, 75%, 85% across seeds, capped by the VMs available (the large size reaches about
72%); about 10% of the vjobs change state; 3 nodes are overloaded. Times are medians over the
repeats: "solve ms" is the engine's own solveMs, "wall ms" the time around the call. "verified"
replays the plan with src/verifier and shows how long that took (n/a when the verifier is absent).
A size with a target PASSes when its median wall time across seeds is under the target and every
plan is feasible and verified; the bench exits 1 when any size FAILs.

Options:
  --suites a,b       suites to run (default: all but those run only when named)
  --sizes a,b        sizes to run (default: all), e.g. --sizes small,medium
  --seeds 1,2,3      seeds (default: ${DEFAULT_SEEDS.join(',')})
  --repeat N         runs per instance, median reported (default: ${DEFAULT_REPEAT})
  --time-limit MS    the engine's time budget (default: the engine's own)
  --json             print a JSON summary on stdout instead of tables (progress stays on stderr)
  -h, --help         this text

Suites:
${suites.join('\n')}
`;
}

const list = (s: string | undefined) =>
  s
    ?.split(',')
    .map((x) => x.trim())
    .filter(Boolean);

function fail(message: string): never {
  process.stderr.write(`bench: ${message}\n`);
  process.exit(1);
}

function positiveInts(name: string, values: string[]): number[] {
  const out = values.map(Number);
  if (out.some((n) => !Number.isInteger(n) || n < 0))
    fail(`--${name} must be non-negative integers, got '${values.join(',')}'`);
  return out;
}

// `pnpm bench -- --json` forwards the `--` itself.
const args = process.argv.slice(2).filter((a) => a !== '--');
let parsed;
try {
  parsed = parseArgs({
    args,
    options: {
      suites: { type: 'string' },
      sizes: { type: 'string' },
      seeds: { type: 'string' },
      repeat: { type: 'string' },
      'time-limit': { type: 'string' },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
} catch (err) {
  fail(`${(err as Error).message}\n\n${help()}`);
}
const v = parsed.values;
if (v.help) {
  process.stdout.write(help());
  process.exit(0);
}

const suiteNames = list(v.suites);
const unknownSuites = suiteNames?.filter((n) => !SUITES.some((s) => s.name === n)) ?? [];
if (unknownSuites.length)
  fail(`unknown suite(s) ${unknownSuites.join(', ')}; known: ${SUITES.map((s) => s.name).join(', ')}`);
const suites = suiteNames ? SUITES.filter((s) => suiteNames.includes(s.name)) : SUITES.filter((s) => !s.onRequest);

const sizes = list(v.sizes);
const knownSizes = new Set(suites.flatMap((s) => s.sizes?.map((z) => z.split(' ')[0]!) ?? []));
const unknownSizes = sizes?.filter((z) => !knownSizes.has(z)) ?? [];
if (unknownSizes.length) fail(`unknown size(s) ${unknownSizes.join(', ')}; known: ${[...knownSizes].join(', ')}`);

const seeds = v.seeds ? positiveInts('seeds', list(v.seeds)!) : DEFAULT_SEEDS;
const [repeat] = v.repeat ? positiveInts('repeat', [v.repeat]) : [DEFAULT_REPEAT];
if (repeat! < 1) fail('--repeat must be at least 1');
const timeLimit = v['time-limit'] ? positiveInts('time-limit', [v['time-limit']])[0] : undefined;

const options: BenchOptions = {
  ...(sizes ? { sizes } : {}),
  seeds,
  repeat: repeat!,
  ...(timeLimit !== undefined ? { timeLimitMs: timeLimit } : {}),
  progress: (line) => process.stderr.write(`${line}\n`),
};

const summary: Record<string, unknown> = {};
let ok = true;
for (const suite of suites) {
  const result = await suite.run(options);
  ok &&= result.ok;
  summary[suite.name] = result.summary;
  if (!v.json) process.stdout.write(`\n${result.text}\n\n`);
}
if (v.json) process.stdout.write(`${JSON.stringify({ ok, suites: summary }, null, 2)}\n`);
process.exitCode = ok ? 0 : 1;
