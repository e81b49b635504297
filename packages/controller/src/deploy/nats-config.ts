import { randomBytes } from 'node:crypto';
import { agentPermissions, assertToken, DEFAULT_PREFIX, subjects } from '@entropy/protocol';
import { queueBucketOf } from '../queue/kv-queue-store.ts';

/**
 * A nats-server configuration for one Entropy cluster: JetStream on, one user per agent whose
 * permissions are exactly `agentPermissions(node, prefix)`, and one controller user. Pure: the
 * passwords come in, the text goes out.
 */

export const DEFAULT_LISTEN = '0.0.0.0:4222';
export const DEFAULT_STORE_DIR = '/var/lib/entropy/nats';
export const CONTROLLER_USER = 'entropy-controller';
/** Environment variables both `entropy-agent` and the `entropy` commands read their NATS credentials from. */
export const USER_ENV = 'ENTROPY_NATS_USER';
export const PASSWORD_ENV = 'ENTROPY_NATS_PASSWORD';

export function agentUser(node: string): string {
  return `agent-${assertToken(node, 'node')}`;
}

export interface Permissions {
  readonly publish: { readonly allow: readonly string[] };
  readonly subscribe: { readonly allow: readonly string[] };
}

/**
 * Everything under the prefix, the inboxes its requests are answered on, and the JetStream API and KV
 * subjects of the queue bucket (`openQueueStore` creates and watches it). Operators run `entropy status`,
 * `submit`, `apply` with these credentials too.
 */
export function controllerPermissions(prefix: string = DEFAULT_PREFIX): Permissions {
  const bucket = queueBucketOf(prefix);
  const common = [subjects(prefix).all(), '_INBOX.>', `$KV.${bucket}.>`];
  return {
    publish: { allow: [...common, '$JS.API.>', '$JS.ACK.>', '$JS.FC.>'] },
    subscribe: { allow: common },
  };
}

export interface NatsConfigOptions {
  readonly nodes: readonly string[];
  readonly prefix?: string;
  readonly listen?: string;
  readonly storeDir?: string;
  /** Password per user name (`agentUser(node)`, `CONTROLLER_USER`). */
  readonly passwords: ReadonlyMap<string, string>;
}

export function generatePassword(): string {
  return randomBytes(24).toString('base64url');
}

/** The users of a cluster: the controller first, then one agent per node. */
export function clusterUsers(nodes: readonly string[]): string[] {
  return [CONTROLLER_USER, ...nodes.map(agentUser)];
}

const q = (s: string) => JSON.stringify(s);
const list = (xs: readonly string[]) => `[${xs.map(q).join(', ')}]`;

function userBlock(user: string, password: string, p: Permissions): string {
  return [
    `    {`,
    `      user: ${q(user)}`,
    `      password: ${q(password)}`,
    `      permissions: {`,
    `        publish: { allow: ${list(p.publish.allow)} }`,
    `        subscribe: { allow: ${list(p.subscribe.allow)} }`,
    `      }`,
    `    }`,
  ].join('\n');
}

export function natsServerConfig(opts: NatsConfigOptions): string {
  const prefix = opts.prefix ?? DEFAULT_PREFIX;
  subjects(prefix); // validates the prefix
  const seen = new Set<string>();
  for (const n of opts.nodes) {
    assertToken(n, 'node');
    if (seen.has(n)) throw new Error(`node ${n} is listed twice`);
    seen.add(n);
  }
  const password = (user: string) => {
    const pw = opts.passwords.get(user);
    if (!pw) throw new Error(`no password for ${user}`);
    return pw;
  };
  const users = [
    userBlock(CONTROLLER_USER, password(CONTROLLER_USER), controllerPermissions(prefix)),
    ...opts.nodes.map((n) => userBlock(agentUser(n), password(agentUser(n)), agentPermissions(n, prefix))),
  ];
  return [
    `# nats-server configuration of an Entropy cluster (prefix ${q(prefix)}), written by entropy deploy nats-config.`,
    `# It holds passwords: keep it mode 0600. Check it with: nats-server -c FILE -t`,
    `listen: ${q(opts.listen ?? DEFAULT_LISTEN)}`,
    ``,
    `jetstream {`,
    `  store_dir: ${q(opts.storeDir ?? DEFAULT_STORE_DIR)}`,
    `}`,
    ``,
    `# Agents may only use their own subjects (${subjects(prefix).node('NODE')}) and reply inboxes.`,
    `authorization {`,
    `  users: [`,
    users.join('\n'),
    `  ]`,
    `}`,
    ``,
  ].join('\n');
}

/** A credentials file: an environment file (systemd EnvironmentFile, or `set -a; . FILE`). */
export function credentialsFile(user: string, password: string, url?: string): string {
  const lines = [`${USER_ENV}=${user}`, `${PASSWORD_ENV}=${password}`];
  if (url) lines.unshift(`ENTROPY_NATS_URL=${url}`);
  return `${lines.join('\n')}\n`;
}

/** Reads the user and password back from a credentials file's text. */
export function parseCredentialsFile(text: string): { user?: string; password?: string } {
  const env: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const m = /^\s*([A-Z_][A-Z0-9_]*)=(.*)$/.exec(line);
    if (m) env[m[1]] = m[2].trim();
  }
  return { user: env[USER_ENV], password: env[PASSWORD_ENV] };
}
