import * as z from 'zod';
import { constraintsSchema } from './constraint-schema.ts';
import { COST_KINDS } from '../model/cost-model.ts';
import type { VJobState, VMState } from '../model/lifecycle.ts';
import { amount, id, nodeId, vjobId, vmId } from './schema-atoms.ts';

/** The JSON shape of an instance file (DESIGN.md, "Instance file"); semantic checks live in parse-instance.ts. */

export { amount, expected } from './schema-atoms.ts';

const extraResources = z.record(z.string(), amount);
const VJOB_STATE_TUPLE = ['waiting', 'running', 'sleeping', 'terminated'] as const satisfies readonly VJobState[];
// An observed VM may be paused (a plan cut between a pause and a save, or a restore and an unpause); a decision never asks for it.
const VM_STATE_TUPLE = [...VJOB_STATE_TUPLE, 'paused'] as const satisfies readonly VMState[];
const stateOf = <T extends readonly [string, ...string[]]>(values: T) =>
  z.enum(values, { error: (iss) => `must be one of ${values.join(', ')}, got ${JSON.stringify(iss.input)}` });

export const nodeSchema = z.strictObject({
  id: nodeId,
  cpu: amount,
  mem: amount,
  state: stateOf(['online', 'offline'] as const).default('online'),
  resources: extraResources.optional(),
});

export const vmSchema = z.strictObject({
  id: vmId,
  vjob: vjobId.optional(),
  cpu: amount,
  mem: amount,
  state: stateOf(VM_STATE_TUPLE),
  host: nodeId.optional(),
  resources: extraResources.optional(),
});

export const vjobSchema = z.strictObject({
  id: vjobId,
  priority: z.number({ error: 'must be a number' }).finite().default(0),
  submittedAt: z.number({ error: 'must be a number' }).finite().default(0),
  vms: z.array(vmId).optional(),
});

const linearCost = z.strictObject({ base: amount.optional(), perMiB: amount.optional() });
const kindLines = Object.fromEntries(COST_KINDS.map((k) => [k, linearCost.optional()])) as Record<
  string,
  z.ZodOptional<typeof linearCost>
>;
/** Cost-model overrides (model/cost-model.ts CostModelOverrides): an instance's `costModel`, and a cost-model file. */
export const costModelSchema = z.strictObject({
  ...kindLines,
  /** Per node, the kinds whose line differs from the cluster's. */
  nodes: z.record(id, z.strictObject(kindLines), { error: 'must map node ids to cost lines' }).optional(),
});

export const instanceSchema = z.strictObject({
  nodes: z.array(nodeSchema, { error: 'must be an array of nodes' }),
  vms: z.array(vmSchema, { error: 'must be an array of VMs' }),
  vjobs: z.array(vjobSchema, { error: 'must be an array of vjobs' }),
  decision: z.record(vjobId, stateOf(VJOB_STATE_TUPLE)).optional(),
  costModel: costModelSchema.optional(),
  /** Placement constraints (constraint-schema.ts), enforced by `entropy plan` and `entropy verify`. */
  constraints: constraintsSchema.optional(),
});

export type InstanceJson = z.input<typeof instanceSchema>;
export type ParsedInstanceJson = z.output<typeof instanceSchema>;
