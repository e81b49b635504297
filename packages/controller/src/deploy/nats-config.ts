import { randomBytes } from 'node:crypto';
import { parseCredentials } from '@entropy/nats-client';
import bcrypt from 'bcryptjs';
import { DEFAULT_PREFIX, subjects } from '@entropy/protocol';
import type { ClusterUser, Permissions } from './nats-roles.ts';

export { agentUser, CONTROLLER_USER, OBSERVER_USER, OPERATOR_USER } from './nats-roles.ts';

/**
 * A nats-server configuration for one Entropy cluster: JetStream on, one user per role and agent
 * with its permissions (nats-roles.ts), passwords as bcrypt hashes or nkey public keys, and, for a
 * server of a NATS cluster, its routes. Pure: the users and their secrets come in, the text goes out.
 */

export const DEFAULT_LISTEN = '0.0.0.0:4222';
export const DEFAULT_STORE_DIR = '/var/lib/entropy/nats';
export const DEFAULT_CLIENT_PORT = 4222;
export const DEFAULT_ROUTE_PORT = 6222;
/**
 * bcrypt's work factor for the server's password hashes: nats-server checks one at every client
 * connection (a thousand agents reconnecting after a restart), and bcryptjs computes one in
 * about 0.15 s on a small machine at 10.
 */
export const BCRYPT_COST = 10;
const AUTH_TIMEOUT_S = 10;
/** Environment variables of a credentials file (and of entropy-agent's and every command's environment). */
export const USER_ENV = 'ENTROPY_NATS_USER';
export const PASSWORD_ENV = 'ENTROPY_NATS_PASSWORD';
export const NKEY_SEED_ENV = 'ENTROPY_NATS_NKEY_SEED';
export const URL_ENV = 'ENTROPY_NATS_URL';

/** How the server knows a user: the bcrypt hash of its password, or its nkey's public key. */
export type UserAuth = { readonly bcrypt: string } | { readonly nkey: string };

/** This server's place in a NATS cluster. */
export interface ClusterSettings {
  readonly name: string;
  /** Where it listens for routes (host:port). */
  readonly listen: string;
  /** The other servers' route URLs, with the route user and password. */
  readonly routes: readonly string[];
  /** What the other servers' routes authenticate with: the user and the bcrypt hash of its password. */
  readonly user: string;
  readonly passwordHash: string;
}

export interface NatsConfigOptions {
  readonly users: readonly ClusterUser[];
  readonly auth: ReadonlyMap<string, UserAuth>;
  readonly prefix?: string;
  readonly listen?: string;
  readonly storeDir?: string;
  /** Required by JetStream in a cluster: each server's own name. */
  readonly serverName?: string;
  readonly cluster?: ClusterSettings;
}

export function generatePassword(): string {
  return randomBytes(24).toString('base64url');
}

/** The bcrypt hash nats-server compares a client's password with (it recognizes `$2a$`/`$2b$`). */
export function hashPassword(password: string): string {
  return bcrypt.hashSync(password, BCRYPT_COST);
}

const q = (s: string) => JSON.stringify(s);
const list = (xs: readonly string[]) => `[${xs.map(q).join(', ')}]`;

function userBlock(user: ClusterUser, auth: UserAuth): string {
  const p: Permissions = user.permissions;
  return [
    `    {`,
    `      # ${user.role}${user.node !== undefined ? ` of node ${user.node}` : ''}`,
    'bcrypt' in auth ? `      user: ${q(user.name)}\n      password: ${q(auth.bcrypt)}` : `      nkey: ${q(auth.nkey)}`,
    `      permissions: {`,
    `        publish: { allow: ${list(p.publish.allow)} }`,
    `        subscribe: { allow: ${list(p.subscribe.allow)} }`,
    ...(p.allowResponses ? [`        allow_responses: true`] : []),
    `      }`,
    `    }`,
  ].join('\n');
}

function clusterBlock(c: ClusterSettings): string[] {
  return [
    `cluster {`,
    `  name: ${q(c.name)}`,
    `  listen: ${q(c.listen)}`,
    `  authorization { user: ${q(c.user)}, password: ${q(c.passwordHash)}, timeout: 2 }`,
    `  routes: ${list(c.routes)}`,
    `}`,
    ``,
  ];
}

export function natsServerConfig(opts: NatsConfigOptions): string {
  const prefix = opts.prefix ?? DEFAULT_PREFIX;
  subjects(prefix); // validates the prefix
  const seen = new Set<string>();
  const users = opts.users.map((u) => {
    if (seen.has(u.name)) throw new Error(`user ${u.name} is listed twice`);
    seen.add(u.name);
    const auth = opts.auth.get(u.name);
    if (!auth) throw new Error(`no password or nkey for ${u.name}`);
    return userBlock(u, auth);
  });
  return [
    `# nats-server configuration of an Entropy cluster (prefix ${q(prefix)}), written by entropy deploy nats-config.`,
    `# Passwords are bcrypt hashes (or users are nkeys)${opts.cluster ? '; the route password is in the routes: keep it mode 0600' : ''}. Check it with: nats-server -c FILE -t`,
    ...(opts.serverName ? [`server_name: ${q(opts.serverName)}`] : []),
    `listen: ${q(opts.listen ?? DEFAULT_LISTEN)}`,
    ``,
    `jetstream {`,
    `  store_dir: ${q(opts.storeDir ?? DEFAULT_STORE_DIR)}`,
    `}`,
    ``,
    ...(opts.cluster ? clusterBlock(opts.cluster) : []),
    `# One user per role; an agent may only use its own node's subjects (${subjects(prefix).node('NODE')}).`,
    `# Each user reads replies on its own inbox (_INBOX.<user>.>); agents answer requests through allow_responses.`,
    `authorization {`,
    `  # Seconds a client has to authenticate once connected (nats-server's default, 2, is short for a loaded node).`,
    `  timeout: ${AUTH_TIMEOUT_S}`,
    `  users: [`,
    users.join('\n'),
    `  ]`,
    `}`,
    ``,
  ].join('\n');
}

/** A user's credentials file: an environment file (systemd EnvironmentFile, `set -a; . FILE`, or `--creds FILE`). */
export function credentialsFile(c: {
  readonly user: string;
  readonly password?: string;
  readonly nkeySeed?: string;
  readonly url?: string;
  readonly role?: string;
}): string {
  const lines = [
    `# NATS credentials of ${c.user}${c.role ? ` (${c.role})` : ''}, written by entropy deploy nats-config: keep it mode 0600.`,
  ];
  if (c.url) lines.push(`${URL_ENV}=${c.url}`);
  lines.push(`${USER_ENV}=${c.user}`);
  if (c.password !== undefined) lines.push(`${PASSWORD_ENV}=${c.password}`);
  if (c.nkeySeed !== undefined) lines.push(`${NKEY_SEED_ENV}=${c.nkeySeed}`);
  return `${lines.join('\n')}\n`;
}

/** Reads a credentials file's text back. */
export function parseCredentialsFile(text: string): {
  user?: string;
  password?: string;
  nkeySeed?: string;
  url?: string;
} {
  const env = parseCredentials(text);
  return { user: env[USER_ENV], password: env[PASSWORD_ENV], nkeySeed: env[NKEY_SEED_ENV], url: env[URL_ENV] };
}
