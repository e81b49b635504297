import { ProtocolError, ProtocolErrorCode } from './errors.ts';

/**
 * Every NATS subject of Entropy is built here, from one prefix. Everything an agent publishes or
 * serves sits under its own node token; replies travel through inboxes, each user's its own
 * (`inboxPrefixOf`), so that the server's permissions can keep every user to its own replies.
 */

export const DEFAULT_PREFIX = 'entropy';

/** Node ids and plan ids: one subject token, no dots, no wildcards, no spaces. */
export const TOKEN_RE = /^[A-Za-z0-9_-]{1,64}$/;
/** A prefix is one or more tokens separated by dots. */
export const PREFIX_RE = /^[A-Za-z0-9_-]{1,64}(\.[A-Za-z0-9_-]{1,64}){0,7}$/;

export const ControlVerb = {
  Status: 'status',
  Apply: 'apply',
  Submit: 'submit',
  Queue: 'queue',
  Cancel: 'cancel',
  /** `entropy node boot|shutdown`: the node state an operator wants. */
  Node: 'node',
  /** `entropy apply --plan FILE`: execute a saved plan if the cluster still matches it (review.md). */
  Execute: 'execute',
  /** `entropy plans`: the plans a controller in `--approve` mode proposes. */
  Plans: 'plans',
  /** `entropy approve ID`: execute a proposed plan. */
  Approve: 'approve',
  /** `entropy reject ID`: drop a proposed plan; it is not proposed again until something changes. */
  Reject: 'reject',
  /** `entropy explain VJOB`: why a vjob is in its state (read-only). */
  Explain: 'explain',
} as const;
export type ControlVerb = (typeof ControlVerb)[keyof typeof ControlVerb];
export const CONTROL_VERBS: readonly ControlVerb[] = Object.values(ControlVerb);

/** What a concrete subject is, once parsed. `kind` names the message it carries (see codec.ts). */
export type ParsedSubject =
  | { readonly kind: 'status' | 'hello' | 'action' | 'ledger' | 'meta' | 'power' | 'simLink'; readonly node: string }
  | { readonly kind: 'progress'; readonly planId: string }
  | { readonly kind: 'control'; readonly verb: ControlVerb };

export function assertToken(value: string, field: string): string {
  if (typeof value !== 'string' || !TOKEN_RE.test(value)) {
    throw new ProtocolError(
      ProtocolErrorCode.InvalidSubject,
      field,
      `${field} ${JSON.stringify(value)} is not a valid subject token (${TOKEN_RE.source})`,
    );
  }
  return value;
}

export interface Subjects {
  readonly prefix: string;
  /** Agent -> controller publication, every status interval. */
  nodeStatus(node: string): string;
  /** Agent -> controller request: "I am here"; re-sent until a controller replies. */
  nodeHello(node: string): string;
  /** Controller -> agent request: one action; the reply is its result. */
  nodeAction(node: string): string;
  /** Controller -> agent request: what became of some action ids (`LedgerQuery` -> `LedgerReply`). */
  nodeLedger(node: string): string;
  /** Controller -> agent request: vjob and demand of VMs the agent holds (`VMMeta` -> `VMMetaAck`). */
  nodeMeta(node: string): string;
  /** Controller -> agent request: power the node off (`PowerRequest` -> `PowerReply`). */
  nodePower(node: string): string;
  /** Simulated hypervisors' migration link (sim driver only): image and VM hand-over between nodes. */
  simLink(node: string): string;
  /** Everything of one node: what an agent's permissions allow. */
  node(node: string): string;
  allNodeStatus(): string;
  allNodeHello(): string;
  /** Executor publications about one plan. */
  planProgress(planId: string): string;
  allPlanProgress(): string;
  /** CLI -> controller requests. */
  control(verb: ControlVerb): string;
  all(): string;
  parse(subject: string): ParsedSubject | undefined;
}

export function subjects(prefix: string = DEFAULT_PREFIX): Subjects {
  if (typeof prefix !== 'string' || !PREFIX_RE.test(prefix)) {
    throw new ProtocolError(
      ProtocolErrorCode.InvalidSubject,
      'prefix',
      `prefix ${JSON.stringify(prefix)} must be dot-separated tokens (${PREFIX_RE.source})`,
    );
  }
  const p = prefix;
  const depth = p.split('.').length;
  const nodeSubject = (node: string, leaf: string) => `${p}.node.${assertToken(node, 'node')}.${leaf}`;
  return {
    prefix: p,
    nodeStatus: (node) => nodeSubject(node, 'status'),
    nodeHello: (node) => nodeSubject(node, 'hello'),
    nodeAction: (node) => nodeSubject(node, 'action'),
    nodeLedger: (node) => nodeSubject(node, 'ledger'),
    nodeMeta: (node) => nodeSubject(node, 'meta'),
    nodePower: (node) => nodeSubject(node, 'power'),
    simLink: (node) => nodeSubject(node, 'sim'),
    node: (node) => nodeSubject(node, '>'),
    allNodeStatus: () => `${p}.node.*.status`,
    allNodeHello: () => `${p}.node.*.hello`,
    planProgress: (planId) => `${p}.plan.${assertToken(planId, 'planId')}.progress`,
    allPlanProgress: () => `${p}.plan.*.progress`,
    control: (verb) => {
      if (!CONTROL_VERBS.includes(verb)) {
        throw new ProtocolError(
          ProtocolErrorCode.InvalidSubject,
          'verb',
          `unknown control verb ${JSON.stringify(verb)}`,
        );
      }
      return `${p}.control.${verb}`;
    },
    all: () => `${p}.>`,
    parse(subject) {
      if (!subject.startsWith(`${p}.`)) return undefined;
      const t = subject.split('.').slice(depth);
      if (t.length === 3 && t[0] === 'node' && TOKEN_RE.test(t[1])) {
        const leaf = {
          status: 'status',
          hello: 'hello',
          action: 'action',
          ledger: 'ledger',
          meta: 'meta',
          power: 'power',
          sim: 'simLink',
        } as const;
        const kind = leaf[t[2] as keyof typeof leaf];
        return kind === undefined ? undefined : { kind, node: t[1] };
      }
      if (t.length === 3 && t[0] === 'plan' && TOKEN_RE.test(t[1]) && t[2] === 'progress') {
        return { kind: 'progress', planId: t[1] };
      }
      if (t.length === 2 && t[0] === 'control' && (CONTROL_VERBS as readonly string[]).includes(t[1])) {
        return { kind: 'control', verb: t[1] as ControlVerb };
      }
      return undefined;
    },
  };
}

/** The root of every reply inbox (nats.js's default prefix). */
export const INBOX_ROOT = '_INBOX';

/**
 * The reply inbox prefix of a NATS user (nats.js `inboxPrefix`): `_INBOX.<user>`. Each user may
 * subscribe under its own alone, so no client reads another's replies.
 */
export function inboxPrefixOf(user: string): string {
  return `${INBOX_ROOT}.${assertToken(user, 'user')}`;
}
