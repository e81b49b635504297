import { ErrorCode, InvalidInputError } from '@entropy/protocol';
import {
  COST_KINDS,
  type CostModel,
  type CostModelOverrides,
  costModelOverrides,
  costModelWith,
  DEFAULT_COST_MODEL,
  type LinearCost,
} from '../model/cost-model.ts';
import { inputIssues } from './input-issues.ts';
import { costModelSchema } from './instance-schema.ts';

/**
 * A cost-model file (`--cost-model`, written by `entropy calibrate`) has the shape of an instance
 * file's `costModel`: per kind a line `{ "base": ms, "perMiB": ms }`, and under `nodes` the lines
 * of nodes that differ from the cluster. Missing kinds and fields take `base`'s values (the defaults).
 *
 * ```json
 * { "migrate": { "base": 180, "perMiB": 1.12 }, "run": { "base": 5400, "perMiB": 0 },
 *   "nodes": { "n3": { "migrate": { "base": 420, "perMiB": 2.3 } } } }
 * ```
 */
export function parseCostModelFile(json: unknown, file: string, base: CostModel = DEFAULT_COST_MODEL): CostModel {
  const shaped = costModelSchema.safeParse(json);
  if (!shaped.success)
    throw new InvalidInputError(ErrorCode.InvalidCostModel, file, inputIssues(shaped.error).slice(0, 1));
  return costModelWith(shaped.data as CostModelOverrides, base);
}

/** Significant digits kept in a written file: below any measurement's precision. */
const DIGITS = 6;
const round = (line: LinearCost): LinearCost => ({
  base: Number(line.base.toPrecision(DIGITS)),
  perMiB: Number(line.perMiB.toPrecision(DIGITS)),
});

/** The text of a cost-model file: every kind's line, then the nodes' own lines; rounded, one kind per line. */
export function formatCostModelFile(model: CostModel): string {
  const o = costModelOverrides(model);
  const entries = COST_KINDS.map((k) => `  ${JSON.stringify(k)}: ${JSON.stringify(round(model[k]))}`);
  const nodes = Object.entries(o.nodes ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  if (nodes.length > 0) {
    const lines = nodes.map(([node, own]) => {
      const kinds = COST_KINDS.filter((k) => own[k]).map(
        (k) => `${JSON.stringify(k)}: ${JSON.stringify(round(own[k] as LinearCost))}`,
      );
      return `    ${JSON.stringify(node)}: { ${kinds.join(', ')} }`;
    });
    entries.push(`  "nodes": {\n${lines.join(',\n')}\n  }`);
  }
  return `{\n${entries.join(',\n')}\n}\n`;
}
