import * as z from 'zod';
import {
  type ApplyReply,
  ErrorCode,
  type InputIssue,
  InvalidInputError,
  jsonPath,
  type ReviewedPlanMessage,
  TOKEN_RE,
} from '@entropy/protocol';
import { type FeasiblePlan, inputIssues, parsePlan, VJOB_STATES } from '@entropy/engine';
import { planFields } from './reviewed-plan.ts';

type ApplyReplyOk = Extract<ApplyReply, { ok: true }>;

/** The `format` of a saved plan file: `entropy apply --dry-run --out FILE` writes one, `entropy apply --plan FILE` reads it. */
export const SAVED_PLAN_FORMAT = 'entropy-saved-plan';
export const SAVED_PLAN_VERSION = 1;

const id = z.string({ error: 'must be a string' }).min(1, { error: 'must not be empty' });
const token = z.string({ error: 'must be a string' }).regex(TOKEN_RE, { error: `must match ${TOKEN_RE.source}` });
const amount = z.number({ error: 'must be a number' }).finite().min(0, { error: 'must not be negative' });
const resources = z.record(z.string(), amount, { error: 'must map dimensions to amounts' });
const vjobState = z.enum(VJOB_STATES, { error: `must be one of ${VJOB_STATES.join(', ')}` });
const vmStates = ['waiting', 'running', 'paused', 'sleeping', 'terminated'] as const;

const savedSchema = z.strictObject({
  format: z.literal(SAVED_PLAN_FORMAT, { error: `must be '${SAVED_PLAN_FORMAT}'` }),
  version: z.literal(SAVED_PLAN_VERSION, { error: `must be ${SAVED_PLAN_VERSION}` }),
  id: token,
  createdAt: z.iso.datetime({ error: 'must be an ISO 8601 date and time' }),
  decision: z.record(id, vjobState),
  configuration: z.strictObject({
    nodes: z.array(z.strictObject({ id: token, state: z.enum(['online', 'offline']), capacity: resources })),
    vms: z.array(
      z.strictObject({
        id,
        vjob: id,
        state: z.enum(vmStates, { error: `must be one of ${vmStates.join(', ')}` }),
        host: token.optional(),
        demand: resources,
      }),
    ),
    vjobs: z.array(z.strictObject({ id, priority: z.number().finite(), submittedAt: amount })),
  }),
  plan: z.unknown(),
});

const MAX_ISSUES = 20;

/** The file `entropy apply --out` writes: the plan, the configuration it was computed from, the decision, an id and the time. */
export function savedPlanJson(
  planId: string,
  plan: FeasiblePlan,
  reply: Pick<ApplyReplyOk, 'decision' | 'configuration'>,
  createdAt: Date,
): object {
  if (!reply.configuration || !reply.decision)
    throw new InvalidInputError(ErrorCode.InvalidPlan, 'reply', [
      { path: '$.configuration', reason: 'the controller did not send the configuration (an older controller?)' },
    ]);
  return {
    format: SAVED_PLAN_FORMAT,
    version: SAVED_PLAN_VERSION,
    id: planId,
    createdAt: createdAt.toISOString(),
    decision: reply.decision,
    configuration: reply.configuration,
    plan: { feasible: true, ...planFields(plan), solveMs: plan.solveMs },
  };
}

/**
 * A saved plan file, validated: every problem with its JSON path (`$.plan.actions[2].to: ...`),
 * ENTROPY_INVALID_PLAN. The plan must be feasible, act only on the VMs and nodes of its
 * configuration, and state its target.
 */
export function parseSavedPlan(json: unknown, file: string): ReviewedPlanMessage & { readonly createdAt: string } {
  const shaped = savedSchema.safeParse(json);
  if (!shaped.success)
    throw new InvalidInputError(ErrorCode.InvalidPlan, file, inputIssues(shaped.error).slice(0, MAX_ISSUES));
  const saved = shaped.data;
  let plan: ReturnType<typeof parsePlan>;
  try {
    plan = parsePlan(saved.plan, file);
  } catch (err) {
    if (!(err instanceof InvalidInputError)) throw err;
    // The plan's own paths, under `plan`.
    throw new InvalidInputError(
      ErrorCode.InvalidPlan,
      file,
      err.issues.map((i) => ({ ...i, path: `$.plan${i.path.slice(1)}` })),
    );
  }
  const issues: InputIssue[] = [];
  const report = (path: PropertyKey[], reason: string) => issues.push({ path: jsonPath(['plan', ...path]), reason });
  if (!plan.feasible) report(['feasible'], 'an infeasible plan cannot be saved or executed');
  else {
    const vms = new Set(saved.configuration.vms.map((v) => v.id));
    const nodes = new Set(saved.configuration.nodes.map((n) => n.id));
    plan.actions.forEach((a, i) => {
      if (!vms.has(a.vm)) report(['actions', i, 'vm'], `VM '${a.vm}' is not in $.configuration.vms`);
      for (const k of ['from', 'to'] as const) {
        const n = a[k];
        if (n !== undefined && !nodes.has(n)) report(['actions', i, k], `node '${n}' is not in $.configuration.nodes`);
      }
    });
    (plan.nodeActions ?? []).forEach((a, i) => {
      if (!nodes.has(a.node)) report(['nodeActions', i, 'node'], `node '${a.node}' is not in $.configuration.nodes`);
    });
    if (plan.target === undefined) report(['target'], 'a saved plan states its target');
  }
  if (issues.length > 0 || !plan.feasible || plan.target === undefined)
    throw new InvalidInputError(ErrorCode.InvalidPlan, file, issues.slice(0, MAX_ISSUES));
  return {
    id: saved.id,
    createdAt: saved.createdAt,
    decision: saved.decision,
    configuration: saved.configuration,
    ...planFields({ ...plan, target: plan.target }),
  };
}
