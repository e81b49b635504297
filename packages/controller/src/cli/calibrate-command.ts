import { samplesFromJournal } from '../calibration/journal-samples.ts';
import { parseResultsFile } from '../calibration/results-file.ts';
import { EntropyError, ErrorCode, silentLogger } from '@entropy/protocol';
import { connectNats, type NatsAuthFlags } from '../controller/nats-connect.ts';
import {
  type CostSample,
  DEFAULT_COST_MODEL,
  fitCostModel,
  formatCostModelFile,
  type KindCalibration,
  type LinearCost,
} from '@entropy/engine';
import { StreamJournal } from '../journal/stream-journal.ts';
import { readCostModelFile } from './cost-model-option.ts';
import { readInputText } from '../command-io/input-file.ts';
import { type CommandResult, writeTextFile } from '../command-io/io.ts';
import { table } from '../command-io/text-table.ts';

export interface CalibrateCommandOptions extends NatsAuthFlags {
  /** Read samples from the plan journal (JetStream stream PREFIX_journal). */
  readonly journal?: boolean;
  readonly prefix?: string;
  /** Only the journal's newest N plans. */
  readonly plans?: number;
  /** Results files (JSON lines, `entropy apply --results`). */
  readonly results?: readonly string[];
  /** The model the fit starts from (kinds without samples keep its lines); the defaults when absent. */
  readonly base?: string;
  /** Where the calibrated cost-model file goes. */
  readonly out: string;
}

/** `entropy calibrate`: fits a cost model to measured durations and writes it as a cost-model file. */
export async function calibrateCommand(options: CalibrateCommandOptions): Promise<CommandResult> {
  const files = options.results ?? [];
  if (files.length === 0 && !options.journal)
    throw new EntropyError(ErrorCode.InvalidResults, 'calibrate: no samples to read: give --results FILE or --journal');
  const base = options.base ? readCostModelFile(options.base) : DEFAULT_COST_MODEL;
  const samples: CostSample[] = [];
  const sources: string[] = [];
  for (const file of files) {
    const read = parseResultsFile(readText(file), file);
    samples.push(...read);
    sources.push(`${read.length} from ${file}`);
  }
  if (options.journal) {
    const j = await journalSamples(options);
    samples.push(...j.samples);
    sources.push(
      `${j.samples.length} from the journal (${j.plans} plans${j.skipped > 0 ? `, ${j.skipped} actions without memory or duration skipped` : ''})`,
    );
  }
  if (samples.length === 0)
    throw new EntropyError(ErrorCode.InvalidResults, `calibrate: no samples (${sources.join(', ')})`);
  const { model, kinds } = fitCostModel(samples, base);
  writeTextFile(options.out, formatCostModelFile(model));
  return {
    output: formatCalibration(kinds, `${samples.length} samples: ${sources.join(', ')}; wrote ${options.out}`),
    exitCode: 0,
  };
}

function readText(file: string): string {
  return readInputText(file, ErrorCode.InvalidResults);
}

async function journalSamples(
  options: CalibrateCommandOptions,
): Promise<{ samples: CostSample[]; skipped: number; plans: number }> {
  const nc = await connectNats(options, 'entropy-calibrate');
  try {
    const journal = await StreamJournal.existing(nc, { prefix: options.prefix ?? 'entropy', logger: silentLogger });
    const ids = await journal.plans();
    const chosen = options.plans !== undefined ? ids.slice(-options.plans) : ids;
    const samples: CostSample[] = [];
    let skipped = 0;
    for (const id of chosen) {
      const s = samplesFromJournal(await journal.read(id));
      samples.push(...s.samples);
      skipped += s.skipped;
    }
    return { samples, skipped, plans: chosen.length };
  } finally {
    await nc.close();
  }
}

const num = (x: number) =>
  Math.abs(x) >= 100
    ? x.toFixed(0)
    : Math.abs(x) >= 1
      ? x.toFixed(2)
      : x.toFixed(4).replace(/0+$/, '').replace(/\.$/, '');
const line = (c: LinearCost) => `${num(c.base)} + ${num(c.perMiB)} x mem`;
const pct = (x: number) => `${(x * 100).toFixed(1)}%`;

/** Per kind: the fit, and the estimates' errors before and after; then the nodes' own lines. */
export function formatCalibration(kinds: readonly KindCalibration[], head: string): string {
  const rows = kinds.map((k) => [
    k.kind,
    String(k.samples),
    String(k.outliers),
    line(k.before),
    `${line(k.after)}${k.method === 'scaled' ? ' (scaled: one memory size)' : ''}`,
    `${pct(k.mdapeBefore)} -> ${pct(k.mdapeAfter)}`,
    `${num(k.medianErrorBeforeMs)} -> ${num(k.medianErrorAfterMs)} ms`,
    k.r2 === undefined ? '-' : k.r2.toFixed(3),
  ]);
  const out = [
    head,
    '',
    ...table(
      ['kind', 'samples', 'outliers', 'before (ms)', 'after (ms)', 'MdAPE before -> after', 'median error', 'R2'],
      rows,
    ),
  ];
  const nodes = kinds.flatMap((k) =>
    k.nodes.map((n) => `  ${k.kind} on ${n.node}: ${line(n.line)} (${n.samples} samples)`),
  );
  if (nodes.length > 0) out.push('', 'nodes with their own line (more than 20% from the cluster):', ...nodes);
  return out.join('\n');
}
