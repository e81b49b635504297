import * as z from 'zod';
import { costModelSchema } from '../instance/instance-schema.ts';

/** The JSON shape of a scenario file; semantic checks (profiles, phase widths) live in scenario.ts. */

const amount = z.number({ error: 'must be a number' }).finite().min(0, { error: 'must not be negative' });
const positive = z.number({ error: 'must be a number' }).finite().positive({ error: 'must be positive' });
const count = z
  .number({ error: 'must be a number' })
  .int({ error: 'must be an integer' })
  .min(1, { error: 'must be at least 1' });
const id = z.string({ error: 'must be a string' }).min(1, { error: 'must not be empty' });

/** `count` identical VMs; `cpu` is each VM's peak demand, `mem` its memory in MiB. */
export const vmGroupSchema = z.strictObject({ count, cpu: amount, mem: amount });

/** A stretch of a vjob's work: its duration when running at full speed, and each VM's CPU use (one number for all). */
export const phaseSchema = z.strictObject({
  durationMs: positive,
  cpu: z.union([amount, z.array(amount)], { error: 'must be a number or an array of numbers, one per VM' }),
  label: z.string().optional(),
});

export const profileSchema = z.strictObject({
  description: z.string().optional(),
  vms: vmGroupSchema,
  phases: z.array(phaseSchema).min(1, { error: 'must list at least one phase' }),
});

export const scenarioVJobSchema = z.strictObject({
  id,
  submittedAt: amount.default(0),
  priority: z.number({ error: 'must be a number' }).finite().default(0),
  /** A profile name of `profiles`, or `vms` and `phases` given inline. */
  profile: id.optional(),
  vms: vmGroupSchema.optional(),
  phases: z.array(phaseSchema).min(1, { error: 'must list at least one phase' }).optional(),
  /** Multiplies every phase's duration. */
  timeScale: positive.default(1),
});

/** `count` identical nodes; with count > 1, `id` is a prefix: n01, n02, ... */
export const nodeGroupSchema = z.strictObject({ id, count: count.default(1), cpu: amount, mem: amount });

export const scenarioSchema = z.strictObject({
  name: z.string().optional(),
  description: z.string().optional(),
  controlPeriodMs: positive.default(30_000),
  costModel: costModelSchema.optional(),
  nodes: z
    .array(nodeGroupSchema, { error: 'must be an array of node groups' })
    .min(1, { error: 'must list at least one node' }),
  profiles: z.record(z.string(), profileSchema).default({}),
  vjobs: z
    .array(scenarioVJobSchema, { error: 'must be an array of vjobs' })
    .min(1, { error: 'must list at least one vjob' }),
});

export type ScenarioJson = z.input<typeof scenarioSchema>;
