import {
  btrplaceImportContext,
  entropyImportContext,
  type InstanceFormat,
  isBtrPlacePlan,
  parsePlan,
  readBtrPlacePlan,
  readInstanceAs,
  verifyPlan,
} from '@entropy/engine';
import { ErrorCode, InvalidInputError } from '@entropy/protocol';
import { readJsonFile, type CommandResult } from '../command-io/io.ts';

/** Exit codes of `entropy verify`; 1 (bad input) is main.ts's for every user-reachable error. */
export const VerifyExit = { Ok: 0, BadInput: 1, Violation: 3 } as const;

export interface VerifyCommandOptions {
  /** The instance file's format: Entropy's own (default) or BtrPlace's instance JSON, as for `entropy plan`. */
  readonly format?: InstanceFormat;
}

/** `entropy verify INSTANCE PLAN`: exit 0 when the plan is valid, 3 with the first violation. */
export function verifyCommand(
  instanceFile: string,
  planFile: string,
  options: VerifyCommandOptions = {},
): CommandResult {
  try {
    return verifyFiles(instanceFile, planFile, options);
  } catch (err) {
    throw err instanceof InvalidInputError ? firstIssueOnly(err) : err;
  }
}

/** A file with many problems is reported by its first one, on one line, with how many more there are. */
function firstIssueOnly(err: InvalidInputError): InvalidInputError {
  const [first, ...rest] = err.issues;
  if (!first || rest.length === 0) return err;
  return new InvalidInputError(err.code, err.file, [
    { path: first.path, reason: `${first.reason} (and ${rest.length} more problems)` },
  ]);
}

function verifyFiles(instanceFile: string, planFile: string, options: VerifyCommandOptions): CommandResult {
  const format = options.format ?? 'entropy';
  const instance = readInstanceAs(format, readJsonFile(instanceFile), instanceFile);
  const json = readJsonFile(planFile, ErrorCode.InvalidPlan);
  const importContext = format === 'btrplace' ? btrplaceImportContext : entropyImportContext;
  const plan = isBtrPlacePlan(json)
    ? readBtrPlacePlan(json, planFile, importContext(instance.configuration))
    : parsePlan(json, planFile);
  if (!plan.feasible)
    return { output: `nothing to verify: the plan says infeasible (${plan.reason})`, exitCode: VerifyExit.Violation };
  const network = instance.btrplace?.network;
  const verdict = verifyPlan(
    instance.configuration,
    instance.decision,
    plan,
    instance.constraints,
    network ? { network } : {},
  );
  if (!verdict.ok) {
    const { kind, message } = verdict.violation;
    return { output: `plan violation (${kind}): ${message}`, exitCode: VerifyExit.Violation };
  }
  return { output: `plan verified: ${plan.actions.length} actions, ${plan.steps} steps`, exitCode: VerifyExit.Ok };
}
