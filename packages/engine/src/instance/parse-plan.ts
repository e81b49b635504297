import * as z from 'zod';
import { ErrorCode, InvalidInputError, jsonPath, type InputIssue } from '@entropy/protocol';
import { ActionType, NodeActionType, VJobState } from '../model/lifecycle.ts';
import type { InfeasiblePlan } from '../model/plan.ts';
import type { VerifiablePlan } from '../verifier/index.ts';
import { ACTIONS_WITH_DESTINATION } from '../verifier/malformed-check.ts';

/** The JSON shape of a plan file (DESIGN.md, "Plan file"), as `entropy plan --json` writes it. */

const time = z.number({ error: 'must be a number' }).finite().min(0, { error: 'must not be negative' });
const count = z
  .number({ error: 'must be a number' })
  .int({ error: 'must be an integer' })
  .min(0, { error: 'must not be negative' });
const id = z.string({ error: 'must be a string' }).min(1, { error: 'must not be empty' });
const oneOf = <T extends Record<string, string>>(values: T) =>
  z.enum(values, {
    error: (iss) => `must be one of ${Object.values(values).join(', ')}, got ${JSON.stringify(iss.input)}`,
  });

const actionSchema = z.strictObject({
  id,
  type: oneOf(ActionType),
  vm: id,
  vjob: id,
  from: id.optional(),
  to: id.optional(),
  start: time,
  end: time,
  step: count,
  dependsOn: z.array(id, { error: 'must be an array of action ids' }).default([]),
});

const nodeActionSchema = z.strictObject({
  id,
  type: oneOf(NodeActionType),
  node: id,
  start: time,
  end: time,
  step: count,
  dependsOn: z.array(id, { error: 'must be an array of action ids' }).default([]),
});

const targetSchema = z.record(z.string(), z.strictObject({ state: oneOf(VJobState), host: id.optional() }));

export const planSchema = z.discriminatedUnion(
  'feasible',
  [
    z.strictObject({
      feasible: z.literal(true),
      actions: z.array(actionSchema, { error: 'must be an array of actions' }),
      nodeActions: z.array(nodeActionSchema, { error: 'must be an array of node actions' }).optional(),
      steps: count,
      makespan: time,
      sumCompletion: time,
      mttr: time.optional(),
      solveMs: time,
      target: targetSchema.optional(),
      // What the solver did; informative, never checked against the plan (model/plan.ts SolverStats).
      stats: z
        .strictObject({
          firstCost: z.number(),
          finalCost: z.number(),
          lowerBound: z.number().optional(),
          gap: z.number().optional(),
          optimal: z.boolean(),
          method: z.enum(['none', 'exact', 'neighbourhoods']),
          nodes: count,
          neighbourhoods: count,
          improvements: count,
          work: count,
          stoppedBy: z.enum(['finished', 'work-budget', 'time-limit']),
        })
        .optional(),
    }),
    z.strictObject({ feasible: z.literal(false), reason: z.string({ error: 'must be a string' }), solveMs: time }),
  ],
  { error: 'must be true or false' },
);

/** A plan file: infeasible with a reason, or feasible (its `target` is optional in the file). */
export type ParsedPlan = InfeasiblePlan | VerifiablePlan;

const MAX_ISSUES = 20;

/**
 * Parses and validates a plan file; throws InvalidInputError (ENTROPY_INVALID_PLAN) listing every
 * problem with its JSON path. Checks what the file alone can tell (shape, ids, references between
 * its actions); whether the plan fits its instance is the verifier's job.
 */
export function parsePlan(json: unknown, file = 'plan'): ParsedPlan {
  const shaped = planSchema.safeParse(json);
  if (!shaped.success) {
    const issues = shaped.error.issues.map((i) => ({ path: jsonPath(i.path), reason: i.message }));
    throw new InvalidInputError(ErrorCode.InvalidPlan, file, issues.slice(0, MAX_ISSUES));
  }
  const plan = shaped.data as ParsedPlan;
  if (!plan.feasible) return plan;
  const issues: InputIssue[] = [];
  const report = (path: PropertyKey[], reason: string) => issues.push({ path: jsonPath(path), reason });
  const ids = new Map<string, number>();
  plan.actions.forEach((a, i) => {
    const first = ids.get(a.id);
    if (first !== undefined)
      report(['actions', i, 'id'], `duplicate action id '${a.id}' (first at $.actions[${first}])`);
    else ids.set(a.id, i);
  });
  const nodeActions = plan.nodeActions ?? [];
  nodeActions.forEach((a, i) => {
    if (ids.has(a.id)) report(['nodeActions', i, 'id'], `duplicate action id '${a.id}'`);
    else ids.set(a.id, -1 - i);
  });
  nodeActions.forEach((a, i) => {
    if (a.end < a.start) report(['nodeActions', i, 'end'], `ends (${a.end}) before it starts (${a.start})`);
    if (a.step >= plan.steps)
      report(['nodeActions', i, 'step'], `step ${a.step} is beyond the plan's ${plan.steps} steps`);
    a.dependsOn.forEach((d, k) => {
      if (!ids.has(d)) report(['nodeActions', i, 'dependsOn', k], `unknown action '${d}'`);
    });
  });
  plan.actions.forEach((a, i) => {
    if (a.end < a.start) report(['actions', i, 'end'], `ends (${a.end}) before it starts (${a.start})`);
    if (ACTIONS_WITH_DESTINATION.has(a.type) && a.to === undefined)
      report(['actions', i, 'to'], `a ${a.type} needs a destination node`);
    if (a.step >= plan.steps) report(['actions', i, 'step'], `step ${a.step} is beyond the plan's ${plan.steps} steps`);
    a.dependsOn.forEach((d, k) => {
      if (!ids.has(d)) report(['actions', i, 'dependsOn', k], `unknown action '${d}'`);
    });
  });
  if (issues.length > 0) throw new InvalidInputError(ErrorCode.InvalidPlan, file, issues.slice(0, MAX_ISSUES));
  return plan;
}
