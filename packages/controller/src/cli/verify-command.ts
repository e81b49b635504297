import { ErrorCode } from '../errors.ts';
import { parseInstance } from '../instance/parse-instance.ts';
import { parsePlan } from '../instance/parse-plan.ts';
import { verifyPlan } from '../verifier/index.ts';
import { readJsonFile, type CommandResult } from './io.ts';

/** Exit codes of `entropy verify`; 1 (bad input) is main.ts's for every user-reachable error. */
export const VerifyExit = { Ok: 0, BadInput: 1, Violation: 3 } as const;

export const VERIFY_HELP = `
Replays the plan against the instance's configuration and decision, and reports the first violation
(malformed, transition, dependency, synchrony, capacity, barrier, final-state).

Exit codes:
  0  the plan is valid
  1  bad input (unreadable file, invalid instance or plan file)
  3  the plan violates a rule, or says the instance is infeasible (nothing to verify)`;

/** `entropy verify INSTANCE PLAN`: exit 0 when the plan is valid, 3 with the first violation. */
export function verifyCommand(instanceFile: string, planFile: string): CommandResult {
  const instance = parseInstance(readJsonFile(instanceFile), instanceFile);
  const plan = parsePlan(readJsonFile(planFile, ErrorCode.InvalidPlan), planFile);
  if (!plan.feasible)
    return { output: `nothing to verify: the plan says infeasible (${plan.reason})`, exitCode: VerifyExit.Violation };
  const verdict = verifyPlan(instance.configuration, instance.decision, plan);
  if (!verdict.ok) {
    const { kind, message } = verdict.violation;
    return { output: `plan violation (${kind}): ${message}`, exitCode: VerifyExit.Violation };
  }
  return { output: `plan verified: ${plan.actions.length} actions, ${plan.steps} steps`, exitCode: VerifyExit.Ok };
}
