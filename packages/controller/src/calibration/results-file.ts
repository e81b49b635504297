import { EntropyError, ErrorCode, executingNode, InvalidInputError } from '@entropy/protocol';
import * as z from 'zod';
import {
  COST_KINDS,
  type CostKind,
  costKindOf,
  type CostSample,
  inputIssues,
  type PlannedAction,
} from '@entropy/engine';

/**
 * A results file: JSON lines, one per completed action, as `entropy apply --results FILE` writes
 * them and `entropy calibrate --results FILE` reads them. `kind` (a cost kind: run, stop, suspend,
 * resumeLocal, resumeRemote, migrate, pause, unpause, bootNode, shutdownNode), `mem` (MiB) and
 * `durationMs` (measured by the agent) make a calibration sample, `node` (the node that ran the
 * action) is optional; the other fields are for the reader: the plan and action ids, the action's
 * type, VM, vjob and nodes, the cost model's estimate, and the measured start and end in ms from
 * the plan's start.
 *
 * ```json
 * {"kind":"migrate","mem":1024,"durationMs":1180,"node":"n1","planId":"apply-m1","action":"a3","type":"migrate","vm":"v1","vjob":"j1","from":"n1","to":"n2","estimatedMs":1024,"start":10,"end":1195}
 * ```
 */
export interface ResultLine extends CostSample {
  readonly planId: string;
  readonly action: string;
  readonly type: PlannedAction['type'];
  readonly vm: string;
  readonly vjob: string;
  readonly from?: string;
  readonly to?: string;
  readonly estimatedMs: number;
  readonly start: number;
  readonly end: number;
}

const amount = z
  .number({ error: (i) => (i.input === undefined ? 'is required' : 'must be a number') })
  .finite()
  .min(0, { error: 'must not be negative' });
const sampleSchema = z.looseObject({
  kind: z.enum(COST_KINDS as [CostKind, ...CostKind[]], {
    error: (i) => `must be one of ${COST_KINDS.join(', ')}, got ${JSON.stringify(i.input)}`,
  }),
  mem: amount,
  durationMs: amount,
  node: z.string({ error: 'must be a string' }).min(1, { error: 'must not be empty' }).optional(),
});

/** The samples of a results file's text; a bad line throws naming `FILE:LINE`, the field and why. */
export function parseResultsFile(text: string, file: string): CostSample[] {
  const samples: CostSample[] = [];
  text.split('\n').forEach((line, i) => {
    if (line.trim() === '') return;
    const where = `${file}:${i + 1}`;
    let json: unknown;
    try {
      json = JSON.parse(line);
    } catch (cause) {
      throw new EntropyError(ErrorCode.InvalidResults, `${where}: not valid JSON (${(cause as Error).message})`, {
        cause,
      });
    }
    const r = sampleSchema.safeParse(json);
    if (!r.success) throw new InvalidInputError(ErrorCode.InvalidResults, where, inputIssues(r.error).slice(0, 1));
    const { kind, mem, durationMs, node } = r.data;
    samples.push({ kind, mem, durationMs, ...(node !== undefined ? { node } : {}) });
  });
  return samples;
}

/** One completed action as measured: its agent's duration, and its start and end in ms from the plan's start. */
export interface CompletedMeasure {
  readonly id: string;
  readonly durationMs: number;
  readonly start: number;
  readonly end: number;
}

/** The results lines of a plan's completed actions; actions whose VM's memory is unknown are left out. */
export function resultLines(
  planId: string,
  actions: readonly PlannedAction[],
  done: readonly CompletedMeasure[],
  memOf: (vm: string) => number | undefined,
): ResultLine[] {
  const byId = new Map(actions.map((a) => [a.id, a]));
  return done.flatMap((d) => {
    const a = byId.get(d.id);
    const mem = a ? memOf(a.vm) : undefined;
    if (!a || mem === undefined) return [];
    const line: ResultLine = {
      kind: costKindOf(a.type, a.from !== a.to),
      mem,
      durationMs: d.durationMs,
      node: executingNode(a),
      planId,
      action: a.id,
      type: a.type,
      vm: a.vm,
      vjob: a.vjob,
      ...(a.from !== undefined ? { from: a.from } : {}),
      ...(a.to !== undefined ? { to: a.to } : {}),
      estimatedMs: a.end - a.start,
      start: d.start,
      end: d.end,
    };
    return [line];
  });
}

export const formatResultLines = (lines: readonly ResultLine[]) => lines.map((l) => `${JSON.stringify(l)}\n`).join('');
