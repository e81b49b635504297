import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, extname, join } from 'node:path';
import { nkeys } from '@nats-io/transport-node';
import { DEFAULT_PREFIX, EntropyError, ErrorCode, ProtocolError, TOKEN_RE } from '@entropy/protocol';
import type { CommandResult } from '../command-io/io.ts';
import {
  type ClusterSettings,
  credentialsFile,
  DEFAULT_CLIENT_PORT,
  DEFAULT_LISTEN,
  DEFAULT_ROUTE_PORT,
  DEFAULT_STORE_DIR,
  generatePassword,
  hashPassword,
  natsServerConfig,
  parseCredentialsFile,
  type UserAuth,
} from './nats-config.ts';
import { clusterUsers, type ClusterUser, Role } from './nats-roles.ts';

export const DEFAULT_CONFIG_FILE = 'nats-server.conf';
export const DEFAULT_CLUSTER_NAME = 'entropy';
/** The user the servers of a NATS cluster authenticate each other's routes with. */
export const ROUTE_USER = 'entropy-route';

export interface NatsConfigCommandOptions {
  readonly nodes: readonly string[];
  readonly prefix?: string;
  readonly out?: string;
  /** Default: `creds/` beside the config file. */
  readonly credsDir?: string;
  readonly listen?: string;
  readonly storeDir?: string;
  /** New passwords (or nkeys) for every user, even those whose credentials file exists. */
  readonly rotate?: boolean;
  /** Users are nkeys (the config holds public keys, each credentials file its seed) instead of passwords. */
  readonly nkeys?: boolean;
  /** Sim agents may publish on each other's `PREFIX.node.<node>.sim` (the sim driver's migration link: the demo, tests). */
  readonly simLink?: boolean;
  /** Writes the configs of this many servers of one NATS cluster (routes, JetStream replicated). */
  readonly cluster?: number;
  /** The cluster's servers, `host[:client-port[:route-port]]` each (default nats-1, nats-2, ... on 4222 and 6222). */
  readonly clusterHosts?: readonly string[];
}

/** The credentials file of a user, as `entropy deploy install --creds-dir` looks it up. */
export function credentialsPath(credsDir: string, user: string): string {
  return join(credsDir, `${user}.env`);
}

async function existingCredentials(file: string): Promise<ReturnType<typeof parseCredentialsFile>> {
  try {
    return parseCredentialsFile(await readFile(file, 'utf8'));
  } catch {
    return {};
  }
}

async function writeSecret(file: string, text: string): Promise<void> {
  await writeFile(file, text, { mode: 0o600 });
  await chmod(file, 0o600); // writeFile's mode applies only to a file it creates
}

interface ServerAddress {
  readonly host: string;
  readonly clientPort: number;
  readonly routePort: number;
}

function parseServerAddress(text: string): ServerAddress {
  const [host, client, route, ...rest] = text.split(':');
  const port = (p: string | undefined, fallback: number) => {
    if (p === undefined || p === '') return fallback;
    const n = Number(p);
    if (!Number.isInteger(n) || n < 1 || n > 65535)
      throw new EntropyError(
        ErrorCode.InvalidOption,
        `--cluster-hosts: ${JSON.stringify(text)}: ${JSON.stringify(p)} is not a port`,
      );
    return n;
  };
  if (!host || rest.length > 0 || !/^[A-Za-z0-9_.-]+$/.test(host))
    throw new EntropyError(
      ErrorCode.InvalidOption,
      `--cluster-hosts: ${JSON.stringify(text)} is not host[:client-port[:route-port]]`,
    );
  return { host, clientPort: port(client, DEFAULT_CLIENT_PORT), routePort: port(route, DEFAULT_ROUTE_PORT) };
}

/** `nats-server.conf` -> `nats-server-2.conf`: one config per server of a cluster. */
export function serverConfigPath(out: string, index: number): string {
  const ext = extname(out);
  return `${out.slice(0, out.length - ext.length)}-${index}${ext}`;
}

/** A user's secret: kept from its credentials file unless `rotate`, else new. */
async function secretOf(
  credsDir: string,
  user: string,
  opts: NatsConfigCommandOptions,
): Promise<{ password: string } | { nkeySeed: string }> {
  const kept = opts.rotate ? {} : await existingCredentials(credentialsPath(credsDir, user));
  if (!opts.nkeys) return { password: kept.password || generatePassword() };
  if (kept.nkeySeed) {
    try {
      nkeys.fromSeed(new TextEncoder().encode(kept.nkeySeed));
      return { nkeySeed: kept.nkeySeed };
    } catch {
      // not a seed: a new one below
    }
  }
  return { nkeySeed: new TextDecoder().decode(nkeys.createUser().getSeed()) };
}

function authOf(secret: { password: string } | { nkeySeed: string }): UserAuth {
  if ('password' in secret) return { bcrypt: hashPassword(secret.password) };
  return { nkey: nkeys.fromSeed(new TextEncoder().encode(secret.nkeySeed)).getPublicKey() };
}

/** What `writeNatsConfig` wrote. */
export interface WrittenNatsConfig {
  /** The server configs: one, or one per server of a cluster. */
  readonly configs: readonly string[];
  readonly credsDir: string;
  readonly users: readonly ClusterUser[];
  /** The client URLs of a cluster's servers, comma-separated (absent for one server: its listen address is not where clients reach it). */
  readonly clientUrls?: string;
  /** The credentials file of a user (`--creds`). */
  creds(user: string): string;
}

/**
 * Writes the server config (or, with `cluster`, one per server) and one credentials file per user
 * (mode 0600). Existing credentials are kept unless `rotate`, so adding a node does not change the
 * secrets of running agents. The demo and the lab write theirs with it too.
 */
export async function writeNatsConfig(opts: NatsConfigCommandOptions): Promise<WrittenNatsConfig> {
  if (opts.nodes.length === 0) throw new EntropyError(ErrorCode.Io, '--nodes: give at least one node id (n1,n2,...)');
  const bad = opts.nodes.find((n) => !TOKEN_RE.test(n));
  if (bad !== undefined)
    throw new EntropyError(
      ErrorCode.Io,
      `--nodes: ${JSON.stringify(bad)} is not a node id (one subject token: ${TOKEN_RE.source})`,
    );
  const size = opts.cluster ?? 1;
  if (!Number.isInteger(size) || size < 1)
    throw new EntropyError(
      ErrorCode.InvalidOption,
      `--cluster: must be a positive whole number of servers, got ${size}`,
    );
  const hosts = (opts.clusterHosts ?? Array.from({ length: size }, (_, i) => `nats-${i + 1}`)).map(parseServerAddress);
  if (opts.cluster !== undefined && hosts.length !== size)
    throw new EntropyError(ErrorCode.InvalidOption, `--cluster-hosts: ${hosts.length} hosts for --cluster ${size}`);
  const prefix = opts.prefix ?? DEFAULT_PREFIX;
  const out = opts.out ?? DEFAULT_CONFIG_FILE;
  const credsDir = opts.credsDir ?? join(dirname(out), 'creds');
  let users: ClusterUser[];
  try {
    users = clusterUsers([...new Set(opts.nodes)], { prefix, simLink: opts.simLink === true });
  } catch (cause) {
    throw new EntropyError(
      ErrorCode.Io,
      cause instanceof ProtocolError ? `--nodes/--prefix: ${cause.message}` : (cause as Error).message,
      { cause },
    );
  }
  const secrets = new Map<string, { password: string } | { nkeySeed: string }>();
  const auth = new Map<string, UserAuth>();
  for (const u of users) {
    const secret = await secretOf(credsDir, u.name, opts);
    secrets.set(u.name, secret);
    auth.set(u.name, authOf(secret));
  }
  const clustered = opts.cluster !== undefined;
  const listenHost = (opts.listen ?? DEFAULT_LISTEN).replace(/:\d+$/, '');
  const clientUrls = clustered ? hosts.map((h) => `nats://${h.host}:${h.clientPort}`).join(',') : undefined;
  const configs: { file: string; text: string }[] = [];
  if (!clustered) {
    configs.push({
      file: out,
      text: natsServerConfig({ users, auth, prefix, listen: opts.listen, storeDir: opts.storeDir }),
    });
  } else {
    const route = (await existingCredentials(credentialsPath(credsDir, ROUTE_USER))).password;
    const routePassword = !opts.rotate && route ? route : generatePassword();
    secrets.set(ROUTE_USER, { password: routePassword });
    const passwordHash = hashPassword(routePassword);
    hosts.forEach((h, i) => {
      const cluster: ClusterSettings = {
        name: DEFAULT_CLUSTER_NAME,
        listen: `${listenHost}:${h.routePort}`,
        routes: hosts
          .filter((_, j) => j !== i)
          .map((o) => `nats-route://${ROUTE_USER}:${encodeURIComponent(routePassword)}@${o.host}:${o.routePort}`),
        user: ROUTE_USER,
        passwordHash,
      };
      const serverName = `${DEFAULT_CLUSTER_NAME}-${i + 1}`;
      const storeDir = join(opts.storeDir ?? DEFAULT_STORE_DIR, serverName);
      configs.push({
        file: serverConfigPath(out, i + 1),
        text: natsServerConfig({
          users,
          auth,
          prefix,
          listen: `${listenHost}:${h.clientPort}`,
          storeDir,
          serverName,
          cluster,
        }),
      });
    });
  }
  try {
    await mkdir(dirname(out), { recursive: true });
    await mkdir(credsDir, { recursive: true, mode: 0o700 });
    for (const c of configs) await writeSecret(c.file, c.text);
    for (const [user, secret] of secrets) {
      const role = users.find((u) => u.name === user)?.role ?? 'cluster routes';
      await writeSecret(
        credentialsPath(credsDir, user),
        credentialsFile({ user, role, ...secret, ...(clientUrls ? { url: clientUrls } : {}) }),
      );
    }
  } catch (cause) {
    const e = cause as NodeJS.ErrnoException;
    throw new EntropyError(ErrorCode.Io, `cannot write ${e.path ?? out}: ${e.code ?? e.message}`, { cause });
  }
  return {
    configs: configs.map((c) => c.file),
    credsDir,
    users,
    ...(clientUrls ? { clientUrls } : {}),
    creds: (user) => credentialsPath(credsDir, user),
  };
}

/** `entropy deploy nats-config`: `writeNatsConfig`, and what it wrote. */
export async function natsConfigCommand(opts: NatsConfigCommandOptions): Promise<CommandResult> {
  const w = await writeNatsConfig(opts);
  const agents = w.users.filter((u) => u.role === Role.Agent).length;
  const kind = opts.nkeys ? 'nkey users' : 'users with bcrypt-hashed passwords';
  const files = [...w.users.map((u) => u.name), ...(w.clientUrls ? [ROUTE_USER] : [])].map((u) => `${u}.env`);
  const replicas = Math.min(w.configs.length, 3);
  return {
    output: [
      w.clientUrls
        ? `wrote ${w.configs.length} server configs, one per server (${w.clientUrls}): ${w.configs.join(', ')}`
        : `wrote ${w.configs[0]}`,
      `  ${kind}: controller, operator, observer and ${agents} agents, each limited to its role; JetStream on; mode 0600`,
      `wrote ${files.length} credentials files in ${w.credsDir}/ (mode 0600; give one with --creds FILE): ${files.join(', ')}`,
      `check it: nats-server -c ${w.configs[0]} -t`,
      ...(w.clientUrls
        ? [
            `run the controller with --replicas ${replicas}: the queue, the lease and the plan journal are then kept on ${replicas} servers`,
          ]
        : []),
    ].join('\n'),
    exitCode: 0,
  };
}
