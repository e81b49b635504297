import { ControlErrorCode } from './error-codes.ts';
import * as z from 'zod';
import { decodeWith, encodeWith, type DecodeResult, MAX_CONTROL_REPLY_BYTES, MAX_MESSAGE_BYTES } from './codec.ts';
import { ACTION_TYPES, actionErrorSchema, demandSchema, resourcesSchema, VJOB_ID_RE, VM_ID_RE } from './messages.ts';
import { TOKEN_RE } from './subjects.ts';

/**
 * Messages of the control subjects (`PREFIX.control.<verb>`): requests from the `entropy` CLI to
 * the controller and their replies. Same codec rules as the other messages: msgpack maps with the
 * protocol version `v`, validated on receipt.
 */

const name = z.string().min(1).max(128);
const token = z.string().regex(TOKEN_RE, { error: `must match ${TOKEN_RE.source}` });
/** Ids that reach the agents' command lines: checked where they enter, whatever the request. */
const vmId = z.string().regex(VM_ID_RE, { error: `must match ${VM_ID_RE.source}` });
const vjobId = z.string().regex(VJOB_ID_RE, { error: `must match ${VJOB_ID_RE.source}` });
const count = z.number().int().min(0);
const time = z.number().finite().min(0);
const vjobState = z.enum(['waiting', 'running', 'sleeping', 'terminated']);
const vmState = z.enum(['waiting', 'running', 'paused', 'sleeping', 'terminated', 'crashed', 'unknown']);

export const controlErrorSchema = actionErrorSchema;
export type ControlError = z.infer<typeof controlErrorSchema>;

export const statusRequestSchema = z.object({});
export type StatusRequest = z.infer<typeof statusRequestSchema>;

export const statusReplySchema = z.object({
  controller: name,
  ts: time,
  nodes: z.array(
    z.object({
      id: token,
      liveness: z.enum(['online', 'offline', 'pending']),
      driver: z.string().max(128),
      capacity: resourcesSchema,
      lastSeen: time,
      vms: count,
      inFlight: count,
      /** Powered off by a plan of this cluster (`entropy node shutdown`): offline at once, and not waited for after a restart. */
      poweredOff: z.boolean().optional(),
      /** The state an operator wants the node in (`entropy node boot|shutdown`), until reached (online) or told otherwise (offline). */
      wanted: z.enum(['online', 'offline']).optional(),
      /** Drained by an operator (`entropy node drain`): no VM runs on it until `entropy node undrain`. */
      drained: z.boolean().optional(),
    }),
  ),
  vms: z.array(z.object({ id: name, vjob: name, state: vmState, host: token.optional(), demand: resourcesSchema })),
  excluded: z.array(z.object({ vm: name, vjob: name.optional(), node: token.optional(), reason: name })),
  /** The plan being executed, if any. */
  running: token.optional(),
});
export type StatusReply = z.infer<typeof statusReplySchema>;

/** A VM or vjob the controller should know about (an instance file's, for `entropy apply`). */
export const registeredVmSchema = z.object({ id: vmId, vjob: vjobId, demand: demandSchema, state: vmState.optional() });
export const registeredVjobSchema = z.object({ id: vjobId, priority: z.number().finite(), submittedAt: time });

const costLine = z.object({
  base: z.number().finite().min(0).optional(),
  perMiB: z.number().finite().min(0).optional(),
});
type CostLine = z.infer<typeof costLine>;
type NodeCostLines = Readonly<Record<string, Readonly<Record<string, CostLine>>>>;
/** Cost-model overrides: a line per kind, and under `nodes` a line per node and kind. */
export type CostModelOverridesMessage = {
  readonly [kind: string]: CostLine | NodeCostLines | undefined;
  readonly nodes?: NodeCostLines;
};
// The inferred type would give every key, `nodes` too, the type of a line: TypeScript cannot say "every key but one".
const costModelOverridesSchema = z
  .object({ nodes: z.record(token, z.record(name, costLine)).optional() })
  .catchall(costLine) as unknown as z.ZodType<CostModelOverridesMessage>;

export const applyRequestSchema = z.object({
  /** Chosen by the requester, so that it can subscribe to the plan's progress before asking. */
  planId: token,
  decision: z.record(vjobId, vjobState),
  vms: z.array(registeredVmSchema).optional(),
  vjobs: z.array(registeredVjobSchema).optional(),
  /** Cost model overrides, as in an instance file: a line per kind, and per node (`nodes`) a line per kind. */
  costModel: costModelOverridesSchema.optional(),
  mode: z.enum(['barrier', 'asap']).optional(),
  timeLimitMs: z.number().finite().positive().optional(),
  /** Plan only: reply with the plan and execute nothing. */
  dryRun: z.boolean().optional(),
  /** An instance file's constraints (Entropy's constraint JSON), kept by this turn's plan: the controller checks them. */
  constraints: z.array(z.record(z.string(), z.unknown())).max(10_000).optional(),
});
export type ApplyRequest = z.infer<typeof applyRequestSchema>;

export const plannedActionSchema = z.object({
  id: name,
  type: z.enum(ACTION_TYPES),
  vm: name,
  vjob: name,
  from: token.optional(),
  to: token.optional(),
  start: time,
  end: time,
  step: count,
  dependsOn: z.array(name),
});
export type PlannedActionMessage = z.infer<typeof plannedActionSchema>;

/** A node power action of a plan (BtrPlace's bootNode, shutdownNode), in the id space and steps of the VM actions. */
export const plannedNodeActionSchema = z.object({
  id: name,
  type: z.enum(['bootNode', 'shutdownNode']),
  node: token,
  start: time,
  end: time,
  step: count,
  dependsOn: z.array(name),
});
export type PlannedNodeActionMessage = z.infer<typeof plannedNodeActionSchema>;

/** The configuration a plan was computed from, as observed: what a saved or proposed plan is checked against before it runs. */
export const observedConfigurationSchema = z.object({
  nodes: z.array(z.object({ id: token, state: z.enum(['online', 'offline']), capacity: resourcesSchema })),
  vms: z.array(z.object({ id: name, vjob: name, state: vmState, host: token.optional(), demand: resourcesSchema })),
  vjobs: z.array(z.object({ id: name, priority: z.number().finite(), submittedAt: time })),
});
export type ObservedConfigurationMessage = z.infer<typeof observedConfigurationSchema>;

export const applyReplySchema = z.union([
  z.object({
    ok: z.literal(true),
    planId: token,
    actions: z.array(plannedActionSchema),
    /** Node boots and shutdowns of the plan (a node an operator wants online or offline); absent when none. */
    nodeActions: z.array(plannedNodeActionSchema).optional(),
    steps: count,
    makespan: time,
    sumCompletion: time,
    solveMs: time,
    /** VMs the monitor left out of the configuration, and why. */
    excluded: z.array(z.object({ vm: name, vjob: name.optional(), node: token.optional(), reason: name })),
    /** Final state and host of every VM the plan leaves not terminated. */
    target: z.record(name, z.object({ state: vjobState, host: token.optional() })),
    executing: z.boolean(),
    /** What the turn left for later and why: vjobs an agent still acts on or in failure backoff, starts without room. */
    notes: z.array(z.string().max(4096)).max(1000).optional(),
    /** A dry run's: the decision the plan reaches and the configuration it was planned from (`apply --out` saves them). */
    decision: z.record(name, vjobState).optional(),
    configuration: observedConfigurationSchema.optional(),
  }),
  z.object({ ok: z.literal(false), error: controlErrorSchema }),
]);
export type ApplyReply = z.infer<typeof applyReplySchema>;

/** A plan to review: its id, the decision it reaches, the configuration it starts from, its actions. */
export const reviewedPlanSchema = z.object({
  id: token,
  decision: z.record(name, vjobState),
  configuration: observedConfigurationSchema,
  actions: z.array(plannedActionSchema),
  nodeActions: z.array(plannedNodeActionSchema).optional(),
  steps: count,
  makespan: time,
  sumCompletion: time,
  target: z.record(name, z.object({ state: vjobState, host: token.optional() })),
});
export type ReviewedPlanMessage = z.infer<typeof reviewedPlanSchema>;

/** `entropy apply --plan FILE [--skip ID...]`: execute a saved plan, without some of its actions, if the cluster still matches it. */
export const executeRequestSchema = z.object({
  /** The execution's id, chosen by the requester (a saved plan may be tried more than once; agents never reuse an action id). */
  planId: token,
  plan: reviewedPlanSchema,
  skip: z.array(name).max(100_000).optional(),
  mode: z.enum(['barrier', 'asap']).optional(),
});
export type ExecuteRequest = z.infer<typeof executeRequestSchema>;

/** A plan proposed by a controller in `--approve` mode, waiting for `entropy approve` or `reject`. */
export const proposalSchema = reviewedPlanSchema.extend({ proposedAt: time });
export type ProposalMessage = z.infer<typeof proposalSchema>;

export const plansRequestSchema = z.object({});
export type PlansRequest = z.infer<typeof plansRequestSchema>;
export const plansReplySchema = z.union([
  z.object({
    ok: z.literal(true),
    controller: name,
    /** The controller runs with `--approve`: its loop proposes plans rather than executing them. */
    approve: z.boolean(),
    proposals: z.array(proposalSchema),
    /** Plans rejected and not proposed again until what is wanted or observed changes. */
    rejected: z.array(z.object({ id: token, at: time })),
  }),
  z.object({ ok: z.literal(false), error: controlErrorSchema }),
]);
export type PlansReply = z.infer<typeof plansReplySchema>;

export const approveRequestSchema = z.object({ id: token, mode: z.enum(['barrier', 'asap']).optional() });
export type ApproveRequest = z.infer<typeof approveRequestSchema>;
export const rejectRequestSchema = z.object({ id: token });
export type RejectRequest = z.infer<typeof rejectRequestSchema>;
export const rejectReplySchema = z.union([
  z.object({ ok: z.literal(true), id: token }),
  z.object({ ok: z.literal(false), error: controlErrorSchema }),
]);
export type RejectReply = z.infer<typeof rejectReplySchema>;

/** A vjob file, checked by the CLI and again on receipt; the controller sets `submittedAt`. */
export const submitRequestSchema = z.object({
  vjob: z.object({
    id: token,
    priority: z.number().finite(),
    vms: z
      .array(z.object({ id: vmId, demand: demandSchema }))
      .min(1)
      .superRefine((vms, ctx) => {
        const seen = new Set<string>();
        vms.forEach((vm, i) => {
          if (seen.has(vm.id)) ctx.addIssue({ code: 'custom', path: [i, 'id'], message: `duplicate VM id '${vm.id}'` });
          seen.add(vm.id);
        });
      }),
    /** The vjob's placement constraints, Entropy's constraint JSON over its own VMs: the controller checks them on receipt. */
    constraints: z.array(z.record(z.string(), z.unknown())).max(10_000).optional(),
  }),
});
export type SubmitRequest = z.infer<typeof submitRequestSchema>;

/** A vjob of the queue as `entropy queue` shows it: the stored record, with live VM states where observed. */
export const queuedVjobSchema = z.object({
  id: token,
  state: vjobState,
  priority: z.number().finite(),
  /** The policy's ordering priority (fifo-ffd: priority grown with waiting time), when the policy tells it. */
  effectivePriority: z.number().finite().optional(),
  submittedAt: time,
  vms: z.array(z.object({ id: name, demand: resourcesSchema, state: vmState.optional(), host: token.optional() })),
  cancelRequestedAt: time.optional(),
  end: z.enum(['finished', 'cancelled']).optional(),
  endedAt: time.optional(),
  /** Why it is in its state, in short, as of the control loop's last turn (`entropy explain` says more). */
  reason: z.string().max(4096).optional(),
});
export type QueuedVjobMessage = z.infer<typeof queuedVjobSchema>;

const vjobReplySchema = z.union([
  z.object({ ok: z.literal(true), vjob: queuedVjobSchema }),
  z.object({ ok: z.literal(false), error: controlErrorSchema }),
]);
export const submitReplySchema = vjobReplySchema;
export type SubmitReply = z.infer<typeof submitReplySchema>;

export const queueRequestSchema = z.object({});
export type QueueRequest = z.infer<typeof queueRequestSchema>;
export const queueReplySchema = z.union([
  z.object({
    ok: z.literal(true),
    controller: name,
    ts: time,
    /** The control loop's policy, and where the queue is kept. */
    policy: name.optional(),
    store: z.enum(['kv', 'memory']),
    vjobs: z.array(queuedVjobSchema),
  }),
  z.object({ ok: z.literal(false), error: controlErrorSchema }),
]);
export type QueueReply = z.infer<typeof queueReplySchema>;

export const cancelRequestSchema = z.object({ id: token });
export type CancelRequest = z.infer<typeof cancelRequestSchema>;
export const cancelReplySchema = vjobReplySchema;
export type CancelReply = z.infer<typeof cancelReplySchema>;

/** `entropy node boot|shutdown N`: the control loop boots the node, or evacuates it and shuts it down. */
export const nodeRequestSchema = z
  .object({
    node: token,
    state: z.enum(['online', 'offline']).optional(),
    /** `entropy node drain|undrain N`: no VM runs on the node (its VMs move away), or the drain is lifted. */
    drain: z.boolean().optional(),
  })
  .refine((r) => (r.state === undefined) !== (r.drain === undefined), {
    error: 'give either state or drain',
    path: ['state'],
  });
export type NodeRequest = z.infer<typeof nodeRequestSchema>;
export const nodeReplySchema = z.union([
  z.object({
    ok: z.literal(true),
    node: token,
    wanted: z.enum(['online', 'offline']),
    /** What the controller sees of the node now; `unknown` for a node it has no report of (powered off before it started). */
    liveness: z.enum(['online', 'offline', 'pending', 'unknown']),
    /** Why nothing will happen, or what happens first (the VMs to move away). */
    note: z.string().max(4096).optional(),
  }),
  /** The reply to a drain or an undrain. */
  z.object({
    ok: z.literal(true),
    node: token,
    drained: z.boolean(),
    liveness: z.enum(['online', 'offline', 'pending', 'unknown']),
    note: z.string().max(4096).optional(),
  }),
  z.object({ ok: z.literal(false), error: controlErrorSchema }),
]);
export type NodeReply = z.infer<typeof nodeReplySchema>;

/** `entropy explain VJOB`: why the vjob is in its state, as of the control loop's last turn. */
export const explainRequestSchema = z.object({ vjob: token });
export type ExplainRequest = z.infer<typeof explainRequestSchema>;
const sentence = z.string().max(4096);
export const explainReplySchema = z.union([
  z.object({
    ok: z.literal(true),
    controller: name,
    ts: time,
    policy: name.optional(),
    vjob: queuedVjobSchema,
    /** The last turn the explanation comes from: when, and what came of it (plan, no-change, infeasible, ...). */
    turn: z.object({ at: time, outcome: name }).optional(),
    /** The state the turn wanted for the vjob (the policy's, the operator's, a cancel), and the one it planned. */
    wanted: vjobState.optional(),
    planned: vjobState.optional(),
    /** What the policy decided and why (Policy.explain; absent for a policy without it). */
    policyDecided: vjobState.optional(),
    position: count.optional(),
    queueLength: count.optional(),
    effectivePriority: z.number().finite().optional(),
    policyReason: sentence.optional(),
    short: z
      .object({
        resource: name,
        needed: z.number().finite(),
        free: z.number().finite(),
        scope: z.enum(['cluster', 'node', 'packing']),
      })
      .optional(),
    ahead: z.array(name).max(100).optional(),
    aheadCount: count.optional(),
    /** Why the turn did not plan it as wanted (agent busy, failure backoff, a constraint, a budget, approval): generic. */
    held: z.array(z.object({ reason: sentence, kind: name.optional() })).max(100),
    /** A start put off for lack of room at the demands the engine uses. */
    deferred: sentence.optional(),
    /** The minimal set of constraints and starts with no plan, when the turn found one naming this vjob or was infeasible. */
    conflict: z
      .object({
        sentence,
        constraints: z.array(sentence).max(1000),
        starts: z.array(name).max(1000),
        minimal: z.boolean(),
      })
      .optional(),
    /** The turn's other notes that name the vjob. */
    notes: z.array(sentence).max(100),
    /** The short form, as `entropy queue` shows it. */
    summary: sentence,
  }),
  z.object({ ok: z.literal(false), error: controlErrorSchema }),
]);
export type ExplainReply = z.infer<typeof explainReplySchema>;

export const CONTROL_SCHEMAS = {
  statusRequest: statusRequestSchema,
  statusReply: statusReplySchema,
  applyRequest: applyRequestSchema,
  applyReply: applyReplySchema,
  submitRequest: submitRequestSchema,
  submitReply: submitReplySchema,
  queueRequest: queueRequestSchema,
  queueReply: queueReplySchema,
  cancelRequest: cancelRequestSchema,
  cancelReply: cancelReplySchema,
  nodeRequest: nodeRequestSchema,
  nodeReply: nodeReplySchema,
  executeRequest: executeRequestSchema,
  /** Executing a saved plan replies as an apply does: the plan, and whether it runs. */
  executeReply: applyReplySchema,
  plansRequest: plansRequestSchema,
  plansReply: plansReplySchema,
  approveRequest: approveRequestSchema,
  approveReply: applyReplySchema,
  rejectRequest: rejectRequestSchema,
  rejectReply: rejectReplySchema,
  explainRequest: explainRequestSchema,
  explainReply: explainReplySchema,
} as const;
export type ControlKind = keyof typeof CONTROL_SCHEMAS;
export type ControlMessageOf<K extends ControlKind> = z.infer<(typeof CONTROL_SCHEMAS)[K]>;

export function encodeControl<K extends ControlKind>(kind: K, msg: ControlMessageOf<K>): Uint8Array {
  return encodeWith(CONTROL_SCHEMAS[kind], kind, msg);
}

/** Never throws: bad input is a value naming the field. Replies, joined from chunks, may be larger than requests. */
export function decodeControl<K extends ControlKind>(kind: K, bytes: Uint8Array): DecodeResult<ControlMessageOf<K>> {
  const maxBytes = kind.endsWith('Reply') ? MAX_CONTROL_REPLY_BYTES : MAX_MESSAGE_BYTES;
  return decodeWith(CONTROL_SCHEMAS[kind], bytes, maxBytes) as DecodeResult<ControlMessageOf<K>>;
}
