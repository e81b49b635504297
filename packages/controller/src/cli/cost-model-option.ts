import { ErrorCode } from '../errors.ts';
import { parseCostModelFile } from '../instance/cost-model-file.ts';
import type { CostModel } from '../model/cost-model.ts';
import { readJsonFile } from './io.ts';

/** The model of a `--cost-model FILE` option: the file over the defaults; a bad file is one line naming it and the field. */
export function readCostModelFile(file: string): CostModel {
  return parseCostModelFile(readJsonFile(file, ErrorCode.InvalidCostModel), file);
}
