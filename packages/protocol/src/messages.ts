import * as z from 'zod';
import { TOKEN_RE } from './subjects.ts';

/**
 * The messages of the wire protocol. Each schema validates a message on receipt; the types are
 * inferred from the schemas so that a field is declared once. The codec adds the protocol version `v`.
 */

/** VM ids reach command lines and file names: no slash, no leading dash, no spaces. */
export const VM_ID_RE = /^[A-Za-z0-9_][A-Za-z0-9_.:-]{0,127}$/;
/** Action ids are chosen by the executor and used for deduplication. */
export const ACTION_ID_RE = /^[A-Za-z0-9_][A-Za-z0-9_.:-]{0,127}$/;
/**
 * Vjob ids reach command lines too (the shell driver's `{vjob}`): the VM ids' alphabet, so that no
 * id of any input format or message carries a quote, a blank, a slash or a leading dash.
 */
export const VJOB_ID_RE = VM_ID_RE;
/** The per-plan nonce the executor puts in each action request and checks in its result. */
export const NONCE_RE = /^[A-Za-z0-9_-]{8,64}$/;

const nodeId = z.string().regex(TOKEN_RE, { error: `must match ${TOKEN_RE.source}` });
const planId = nodeId;
const vmId = z.string().regex(VM_ID_RE, { error: `must match ${VM_ID_RE.source}` });
const actionId = z.string().regex(ACTION_ID_RE, { error: `must match ${ACTION_ID_RE.source}` });
const vjobId = z.string().regex(VJOB_ID_RE, { error: `must match ${VJOB_ID_RE.source}` });
const nonce = z.string().regex(NONCE_RE, { error: `must match ${NONCE_RE.source}` });
const name = z.string().min(1).max(128);
/**
 * The largest quantity of a resource (2^50: a PiB of MiB): far beyond any node, and small enough that
 * sums over a cluster stay finite and exact.
 */
export const MAX_QUANTITY = 2 ** 50;
const amount = z.number().finite().min(0).max(MAX_QUANTITY);
const count = z.number().int().min(0);
const timestamp = z.number().finite().min(0);

/** Quantities per named dimension: `cpu` (cores or any unit), `mem` (MiB), and any others. */
export const resourcesSchema = z.record(name, amount);
/** A VM's demand: `cpu` and `mem` always, named resources beside them. */
export const demandSchema = z.object({ cpu: amount, mem: amount }).catchall(amount);

export const WireVMState = {
  Waiting: 'waiting',
  Running: 'running',
  Paused: 'paused',
  Sleeping: 'sleeping',
  Terminated: 'terminated',
  Crashed: 'crashed',
  Unknown: 'unknown',
} as const;
export type WireVMState = (typeof WireVMState)[keyof typeof WireVMState];
const WIRE_VM_STATES = Object.values(WireVMState) as [WireVMState, ...WireVMState[]];

export const ActionType = {
  Run: 'run',
  Stop: 'stop',
  Suspend: 'suspend',
  Resume: 'resume',
  Migrate: 'migrate',
  Pause: 'pause',
  Unpause: 'unpause',
} as const;
export type ActionType = (typeof ActionType)[keyof typeof ActionType];
export const ACTION_TYPES = Object.values(ActionType) as [ActionType, ...ActionType[]];

/** Bounds of the lists an agent sends or takes. */
export const MAX_STATUS_ACTIONS = 1000;
export const MAX_LEDGER_QUERY = 10_000;
export const MAX_VM_META = 10_000;

export const vmStatusSchema = z.object({
  id: vmId,
  vjob: vjobId.optional(),
  state: z.enum(WIRE_VM_STATES),
  /** The node the VM runs on, or the node holding its suspended image. */
  host: nodeId,
  /** Measured use, when the driver can tell: cores and MiB. */
  cpu: amount.optional(),
  mem: amount.optional(),
  /** The demand the agent last saw in an action request for this VM. */
  demand: demandSchema.optional(),
});
export type VMStatus = z.infer<typeof vmStatusSchema>;

export const nodeStatusSchema = z.object({
  node: nodeId,
  /** Increases by one per publication of one agent process; restarts at 0 when the agent restarts. */
  seq: count,
  ts: timestamp,
  driver: name,
  capacity: resourcesSchema,
  vms: z.array(vmStatusSchema),
  /** Actions being executed right now. */
  inFlight: count,
  /** Which ones (the first MAX_STATUS_ACTIONS): the controller plans no VM an agent still acts on. */
  actions: z
    .array(z.object({ actionId, type: z.enum(ACTION_TYPES), vm: vmId }))
    .max(MAX_STATUS_ACTIONS)
    .optional(),
});
export type NodeStatus = z.infer<typeof nodeStatusSchema>;

export const helloSchema = z.object({
  node: nodeId,
  driver: name,
  capacity: resourcesSchema,
  startedAt: timestamp,
  pid: count.optional(),
});
export type Hello = z.infer<typeof helloSchema>;

export const helloAckSchema = z.object({
  node: nodeId,
  /** Who acknowledged (a controller's name). */
  by: name,
  ts: timestamp,
});
export type HelloAck = z.infer<typeof helloAckSchema>;

/** Which node fields each action type needs: `from` is where the VM (or its image) is, `to` where it arrives. */
const NEEDS: Readonly<Record<ActionType, { from: boolean; to: boolean }>> = {
  run: { from: false, to: true },
  stop: { from: true, to: false },
  suspend: { from: true, to: false },
  resume: { from: true, to: true },
  migrate: { from: true, to: true },
  pause: { from: true, to: false },
  unpause: { from: true, to: false },
};

export const actionRequestSchema = z
  .object({
    /** Unique per action of a plan; a retry carries the same id and never runs the action twice. */
    actionId,
    planId,
    type: z.enum(ACTION_TYPES),
    vm: vmId,
    vjob: vjobId,
    demand: demandSchema,
    from: nodeId.optional(),
    to: nodeId.optional(),
    /** The cost model's estimate; the sim driver sleeps this long, scaled by its speed. */
    estimatedMs: amount,
    /** The agent kills a hypervisor command that runs longer. */
    timeoutMs: z.number().finite().positive(),
    /**
     * The sending controller leader's fencing token. The agent refuses a request whose token is
     * below the newest it has seen (ENTROPY_STALE_LEADER); requests without one are accepted.
     */
    token: count.optional(),
    /**
     * Start the hypervisor call no earlier than this instant (epoch ms, the sender's clock): the
     * executor gives the pauses (or unpauses) of a vjob one deadline a little ahead, so that they
     * start together however unevenly the requests reach the agents. Past or absent: at once.
     */
    notBefore: timestamp.optional(),
    /**
     * The executor's nonce for the plan: the agent echoes it in the result, and the executor accepts
     * a result only with the nonce, the action id and the node of the request it sent.
     */
    nonce: nonce.optional(),
  })
  .superRefine((req, ctx) => {
    for (const field of ['from', 'to'] as const) {
      if (NEEDS[req.type][field] && req[field] === undefined) {
        ctx.addIssue({ code: 'custom', path: [field], message: `is required for ${req.type}` });
      }
    }
    if (req.type === 'migrate' && req.from !== undefined && req.from === req.to) {
      ctx.addIssue({ code: 'custom', path: ['to'], message: 'must differ from from for migrate' });
    }
  });
export type ActionRequest = z.infer<typeof actionRequestSchema>;

/**
 * The node that executes an action, hence the agent it is sent to: the source of a migration
 * (`xl migrate` and `virsh migrate` run there), the destination of a run or resume, else the VM's host.
 */
export function executingNode(req: Pick<ActionRequest, 'type' | 'from' | 'to'>): string {
  const node = req.type === 'run' || req.type === 'resume' ? req.to : req.from;
  if (node === undefined) throw new TypeError(`${req.type} action without ${req.type === 'run' ? 'to' : 'from'}`);
  return node;
}

export const actionErrorSchema = z.object({
  code: name,
  message: z.string(),
  /** The request field at fault, for ENTROPY_BAD_REQUEST. */
  field: z.string().optional(),
});
export type ActionError = z.infer<typeof actionErrorSchema>;

/** What every agent reply to a controller's action says: which action, whether it worked, how long it took. */
const resultFields = {
  /** Empty when the request could not be decoded far enough to read its id. */
  actionId: z.union([actionId, z.literal('')]),
  node: nodeId,
  ok: z.boolean(),
  error: actionErrorSchema.optional(),
  /** Measured on the agent, around the driver call (or the shutdown's checks and command). */
  durationMs: amount,
  /** On a failure: true when a retry cannot help (see isFinalActionError). */
  final: z.boolean().optional(),
};

const errorWhenFailed = (r: { ok: boolean; error?: unknown }, ctx: z.RefinementCtx) => {
  if (!r.ok && r.error === undefined)
    ctx.addIssue({ code: 'custom', path: ['error'], message: 'is required when ok is false' });
};

export const actionResultSchema = z
  .object({
    ...resultFields,
    /**
     * The driver call's start and end on the agent's clock: epoch milliseconds with sub-millisecond
     * precision (performance.timeOrigin + performance.now()). Nodes' clocks differ by their sync;
     * on one machine, the spread of a vjob's pause starts is its pause skew. Absent from older agents.
     */
    startedAt: timestamp.optional(),
    endedAt: timestamp.optional(),
    /** The VM's state after the action, and where it is. */
    state: z.enum(WIRE_VM_STATES).optional(),
    host: nodeId.optional(),
    /** True when this reply repeats the result of an earlier request with the same action id. */
    deduplicated: z.boolean().optional(),
    /** The request's nonce, echoed. */
    nonce: nonce.optional(),
  })
  .superRefine(errorWhenFailed);
export type ActionResult = z.infer<typeof actionResultSchema>;

export const ProgressKind = {
  PlanStarted: 'plan-started',
  StepStarted: 'step-started',
  ActionStarted: 'action-started',
  ActionDone: 'action-done',
  ActionFailed: 'action-failed',
  StepDone: 'step-done',
  PlanDone: 'plan-done',
  PlanFailed: 'plan-failed',
} as const;
export type ProgressKind = (typeof ProgressKind)[keyof typeof ProgressKind];

export const planProgressSchema = z.object({
  planId,
  kind: z.enum(Object.values(ProgressKind) as [ProgressKind, ...ProgressKind[]]),
  ts: timestamp,
  actionId: actionId.optional(),
  step: count.optional(),
  counts: z.object({ total: count, done: count, failed: count, running: count }),
  error: actionErrorSchema.optional(),
  durationMs: amount.optional(),
  /** Set for a node power action (bootNode, shutdownNode): the node it boots or shuts down. */
  node: nodeId.optional(),
  /** action-done: the agent's `startedAt` and `endedAt` of the action (ActionResult), when it sent them. */
  startedAt: timestamp.optional(),
  endedAt: timestamp.optional(),
});
export type PlanProgress = z.infer<typeof planProgressSchema>;

/** Node power actions an agent executes: only the shutdown (a powered-off node has no agent to boot it). */
export const PowerActionType = { ShutdownNode: 'shutdownNode' } as const;
export type PowerActionType = (typeof PowerActionType)[keyof typeof PowerActionType];

/**
 * Controller -> agent (`PREFIX.node.<node>.power`): power the node off. The agent refuses while the
 * node holds a VM, an image or a running action (ENTROPY_NODE_NOT_EMPTY), runs its shutdown
 * command, replies, and then stops serving: its reply is the end of the action.
 */
export const powerRequestSchema = z.object({
  /** As for actions: `<planId>:<action id>`; a repeat while the shutdown runs waits for the same result. */
  actionId,
  planId,
  type: z.enum(Object.values(PowerActionType) as [PowerActionType, ...PowerActionType[]]),
  /** The agent kills a shutdown command that runs longer. */
  timeoutMs: z.number().finite().positive(),
  /** The leader's fencing token, as in ActionRequest. */
  token: count.optional(),
});
export type PowerRequest = z.infer<typeof powerRequestSchema>;

export const powerReplySchema = z.object(resultFields).superRefine(errorWhenFailed);
export type PowerReply = z.infer<typeof powerReplySchema>;

/** What happened to an action id, as the agent's ledger knows it. */
export const LedgerStatus = {
  Running: 'running',
  Done: 'done',
  Failed: 'failed',
  /** Started, then the agent restarted before it ended: never run again. */
  Interrupted: 'interrupted',
  /** Never seen, or forgotten (the ledger keeps the last 10,000 ended actions). */
  Unknown: 'unknown',
} as const;
export type LedgerStatus = (typeof LedgerStatus)[keyof typeof LedgerStatus];

/** Controller -> agent: what became of these action ids (after a controller restart). */
export const ledgerQuerySchema = z.object({ actionIds: z.array(actionId).max(MAX_LEDGER_QUERY) });
export type LedgerQuery = z.infer<typeof ledgerQuerySchema>;

export const ledgerReplySchema = z.object({
  node: nodeId,
  /** One per asked id, in the order asked; `result` for the ended ones. */
  entries: z.array(
    z.object({
      actionId,
      status: z.enum(Object.values(LedgerStatus) as [LedgerStatus, ...LedgerStatus[]]),
      result: actionResultSchema.optional(),
    }),
  ),
  /** Set, with no entries, when the query was malformed. */
  error: actionErrorSchema.optional(),
});
export type LedgerReply = z.infer<typeof ledgerReplySchema>;

/** Controller -> agent: the vjob and demand of VMs the agent holds without them (e.g. arrived by a live migration). */
export const vmMetaSchema = z.object({
  vms: z.array(z.object({ vm: vmId, vjob: vjobId, demand: demandSchema })).max(MAX_VM_META),
  /** The leader's fencing token, as in ActionRequest. */
  token: count.optional(),
});
export type VMMeta = z.infer<typeof vmMetaSchema>;

export const vmMetaAckSchema = z.object({
  node: nodeId,
  /** How many VMs' metadata changed. */
  updated: count,
  error: actionErrorSchema.optional(),
});
export type VMMetaAck = z.infer<typeof vmMetaAckSchema>;

/**
 * Sim driver only: the simulated hypervisors' link. A migration reserves room on the destination
 * at its start (`migrate-in`) and hands the VM over at its end (`migrate-commit`); a remote resume
 * holds the source's image at its start (`hold-image`) and takes it at its end (`take-image`);
 * `release` drops a reservation or a hold after a failure.
 */
export const simLinkRequestSchema = z.object({
  op: z.enum(['migrate-in', 'migrate-commit', 'hold-image', 'take-image', 'release']),
  vm: vmId,
  vjob: vjobId.optional(),
  demand: demandSchema,
  from: nodeId,
  to: nodeId,
  /** migrate-commit: the VM's state, kept by the migration. */
  state: z.enum(['running', 'paused']).optional(),
  /** migrate-in, hold-image: the reservation or hold lapses after this long (its source may have died). */
  timeoutMs: z.number().finite().positive().optional(),
});
export type SimLinkRequest = z.infer<typeof simLinkRequestSchema>;

export const simLinkReplySchema = z.object({ ok: z.boolean(), error: actionErrorSchema.optional() });
export type SimLinkReply = z.infer<typeof simLinkReplySchema>;
