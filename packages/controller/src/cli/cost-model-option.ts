import { ErrorCode } from '@entropy/protocol';
import { type CostModel, parseCostModelFile } from '@entropy/engine';
import { readJsonFile } from '../command-io/io.ts';

/** The model of a `--cost-model FILE` option: the file over the defaults; a bad file is one line naming it and the field. */
export function readCostModelFile(file: string): CostModel {
  return parseCostModelFile(readJsonFile(file, ErrorCode.InvalidCostModel), file);
}
