import { readJsonFile } from '../cli/io.ts';
import { ErrorCode, InvalidInputError, jsonPath } from '../errors.ts';
import { type CostModel, type CostModelOverrides, costModelWith } from '../model/cost-model.ts';
import { costModelSchema } from './instance-schema.ts';

/**
 * A cost model file: the overrides an instance's `costModel` takes (`{ "suspend": { "perMiB": 20 } }`),
 * over the defaults. A bad field is an InvalidInputError naming its JSON path.
 */
export function readCostModelFile(file: string): CostModel {
  const r = costModelSchema.safeParse(readJsonFile(file));
  if (!r.success) {
    const issues = r.error.issues.flatMap((i) =>
      i.code === 'unrecognized_keys' ? i.keys.map((key) => ({ path: jsonPath([...i.path, key]), reason: `unknown field '${key}'` })) : [{ path: jsonPath(i.path), reason: i.message }],
    );
    throw new InvalidInputError(ErrorCode.InvalidInstance, file, issues);
  }
  return costModelWith(r.data as CostModelOverrides);
}
