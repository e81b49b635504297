import {
  assertToken,
  CONTROL_VERBS,
  type ControlVerb,
  DEFAULT_PREFIX,
  inboxPrefixOf,
  subjects,
} from '@entropy/protocol';
import { leaderBucketOf } from '../controller/leader-lease-options.ts';
import { journalStreamOf } from '../journal/stream-journal.ts';
import { queueBucketOf } from '../queue/kv-queue-store.ts';

/**
 * The four kinds of NATS users of an Entropy cluster and exactly what each may publish and
 * subscribe to. Pure data: nats-config.ts writes it in nats-server's syntax, the security tests
 * try every right that is not granted.
 *
 * Replies: each user subscribes to its own inbox only (`_INBOX.<user>.>`). Agents may publish no
 * inbox at all: nats-server's `allow_responses` lets them answer, once, a request they received,
 * so no agent can answer a request sent to another or write into the controller's inbox. The
 * controller answers agents' hellos and the CLI's control requests in several chunks, so it may
 * publish on every inbox.
 */

export const Role = {
  Agent: 'agent',
  Controller: 'controller',
  /** The operator's CLI: the control subjects, the plans' progress, the plan journal (read). */
  Operator: 'operator',
  /** Read-only: entropy-watch, entropy status and queue. */
  Observer: 'observer',
} as const;
export type Role = (typeof Role)[keyof typeof Role];

export const CONTROLLER_USER = 'entropy-controller';
export const OPERATOR_USER = 'entropy-operator';
export const OBSERVER_USER = 'entropy-observer';

export function agentUser(node: string): string {
  return `agent-${assertToken(node, 'node')}`;
}

export interface Permissions {
  readonly publish: { readonly allow: readonly string[] };
  readonly subscribe: { readonly allow: readonly string[] };
  /** Answer each request received, once (nats-server's `allow_responses`). */
  readonly allowResponses?: boolean;
}

export interface ClusterUser {
  readonly name: string;
  readonly role: Role;
  /** The agent's node. */
  readonly node?: string;
  readonly permissions: Permissions;
}

export interface RoleOptions {
  readonly prefix?: string;
  /**
   * Sim agents hand migrating VMs to each other on `PREFIX.node.<other>.sim` (the demo and tests):
   * with it, agents may also publish there. Real hypervisors need nothing of the kind.
   */
  readonly simLink?: boolean;
}

const inboxOf = (user: string) => `${inboxPrefixOf(user)}.>`;
/** The JetStream API of one stream, for a client that reads it: info, ordered consumers, their messages. */
function streamReader(stream: string): string[] {
  return [
    '$JS.API.INFO',
    `$JS.API.STREAM.INFO.${stream}`,
    `$JS.API.STREAM.MSG.GET.${stream}`,
    `$JS.API.DIRECT.GET.${stream}.>`,
    `$JS.API.CONSUMER.CREATE.${stream}`,
    `$JS.API.CONSUMER.CREATE.${stream}.>`,
    `$JS.API.CONSUMER.INFO.${stream}.>`,
    `$JS.API.CONSUMER.DELETE.${stream}.>`,
    `$JS.API.CONSUMER.MSG.NEXT.${stream}.>`,
    `$JS.ACK.${stream}.>`,
  ];
}

/** Its own node's subjects only: status and hello out; actions, ledger, metadata, power (and the sim link) in. */
export function agentPermissions(node: string, opts: RoleOptions = {}): Permissions {
  const s = subjects(opts.prefix ?? DEFAULT_PREFIX);
  return {
    publish: { allow: [s.nodeStatus(node), s.nodeHello(node), ...(opts.simLink ? [`${s.prefix}.node.*.sim`] : [])] },
    subscribe: {
      allow: [
        s.nodeAction(node),
        s.nodeLedger(node),
        s.nodeMeta(node),
        s.nodePower(node),
        s.simLink(node),
        inboxOf(agentUser(node)),
      ],
    },
    allowResponses: true,
  };
}

/**
 * The controller: requests to every agent, progress, the plan journal, the control subjects it
 * serves, and JetStream (the queue and lease buckets, the journal stream, which it creates).
 */
export function controllerPermissions(opts: RoleOptions = {}): Permissions {
  const prefix = opts.prefix ?? DEFAULT_PREFIX;
  const p = subjects(prefix).prefix;
  const kv = [`$KV.${queueBucketOf(prefix)}.>`, `$KV.${leaderBucketOf(prefix)}.>`];
  return {
    publish: {
      allow: [
        `${p}.node.*.action`,
        `${p}.node.*.ledger`,
        `${p}.node.*.meta`,
        `${p}.node.*.power`,
        `${p}.plan.*.progress`,
        `${p}.journal.*`,
        // A starting controller asks whether another one already serves the prefix.
        subjects(prefix).control('status'),
        '_INBOX.>',
        '$JS.API.>',
        '$JS.ACK.>',
        '$JS.FC.>',
        ...kv,
      ],
    },
    subscribe: {
      allow: [`${p}.node.*.hello`, `${p}.node.*.status`, `${p}.control.*`, inboxOf(CONTROLLER_USER), ...kv],
    },
  };
}

/** The operator's CLI: every control request, the plans' progress, and the plan journal read (calibrate, gantt). Nothing to the agents. */
export function operatorPermissions(opts: RoleOptions = {}): Permissions {
  const prefix = opts.prefix ?? DEFAULT_PREFIX;
  const s = subjects(prefix);
  return {
    publish: { allow: [...CONTROL_VERBS.map((v) => s.control(v)), ...streamReader(journalStreamOf(prefix))] },
    subscribe: { allow: [s.allPlanProgress(), inboxOf(OPERATOR_USER)] },
  };
}

/** What an observer may ask: the controller's views, never a change. */
export const OBSERVER_VERBS: readonly ControlVerb[] = ['status', 'queue', 'explain'];

/** Read-only: every message under the prefix and every reply (entropy-watch), and the status, queue and explain requests. */
export function observerPermissions(opts: RoleOptions = {}): Permissions {
  const s = subjects(opts.prefix ?? DEFAULT_PREFIX);
  return {
    publish: { allow: OBSERVER_VERBS.map((v) => s.control(v)) },
    subscribe: { allow: [s.all(), '_INBOX.>'] },
  };
}

/** The users of a cluster: controller, operator, observer, then one agent per node. */
export function clusterUsers(nodes: readonly string[], opts: RoleOptions = {}): ClusterUser[] {
  return [
    { name: CONTROLLER_USER, role: Role.Controller, permissions: controllerPermissions(opts) },
    { name: OPERATOR_USER, role: Role.Operator, permissions: operatorPermissions(opts) },
    { name: OBSERVER_USER, role: Role.Observer, permissions: observerPermissions(opts) },
    ...nodes.map((node) => ({
      name: agentUser(node),
      role: Role.Agent,
      node,
      permissions: agentPermissions(node, opts),
    })),
  ];
}
