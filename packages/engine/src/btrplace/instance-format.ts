import type { Constraint } from '../constraints/constraint.ts';
import { EntropyError, ErrorCode } from '@entropy/protocol';
import { parseInstance } from '../instance/parse-instance.ts';
import type { Configuration, Decision } from '../model/configuration.ts';
import type { CostModel } from '../model/cost-model.ts';
import { readBtrPlaceInstance, type BtrPlaceInstance } from './read-instance.ts';

/** The instance formats the CLI reads: Entropy's own, and BtrPlace's instance JSON. */
export const INSTANCE_FORMATS = ['entropy', 'btrplace'] as const;
export type InstanceFormat = (typeof INSTANCE_FORMATS)[number];

/** An instance in either format, as the engine and the verifier take it. */
export interface FormattedInstance {
  readonly configuration: Configuration;
  readonly decision: Decision;
  readonly costModel: CostModel;
  /** BtrPlace's constraints, or an Entropy instance's `constraints`. */
  readonly constraints: readonly Constraint[];
  /** The BtrPlace instance itself (durations, export context), when the format is BtrPlace's. */
  readonly btrplace?: BtrPlaceInstance;
}

/** Reads an instance's JSON in the given format; a format not in INSTANCE_FORMATS is an error naming it. */
export function readInstanceAs(format: InstanceFormat, json: unknown, file: string): FormattedInstance {
  if (format === 'btrplace') {
    const btrplace = readBtrPlaceInstance(json, file);
    return { ...btrplace, btrplace };
  }
  if (format !== 'entropy')
    throw new EntropyError(
      ErrorCode.InvalidInstance,
      `--format: unknown format '${String(format)}' (expected ${INSTANCE_FORMATS.join(' or ')})`,
    );
  const instance = parseInstance(json, file);
  return { ...instance, constraints: instance.constraints ?? [] };
}
