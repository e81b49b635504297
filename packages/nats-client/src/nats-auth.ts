import { open } from 'node:fs/promises';
import { type ConnectionOptions, nkeyAuthenticator, nkeys } from '@nats-io/transport-node';
import { EntropyError, ErrorCode, inboxPrefixOf, TOKEN_RE } from '@entropy/protocol';
import { DEFAULT_NATS_URL, NatsEnv } from './nats-auth-env.ts';

export { DEFAULT_NATS_URL, NatsEnv };

/**
 * How every Entropy process (controller, agents, CLI, entropy-watch) finds its NATS servers and
 * credentials. Each setting comes from a flag, else its environment variable, else the credentials
 * file (`--creds`, an environment file as `entropy deploy nats-config` writes one per user), else
 * nothing. A connection that authenticates as a user takes `_INBOX.<user>` as its reply inbox: the
 * server's permissions let each user subscribe there alone.
 */

/** A credentials or seed file is a few lines: anything larger is not one. */
const MAX_SECRET_FILE_BYTES = 64 * 1024;
const NKEY_USER_SEED_RE = /\bSU[A-Z2-7]{56}\b/;

/** The command line's NATS settings, as the commands declare them (`addNatsOptions`). */
export interface NatsAuthFlags {
  /** One server URL, or several comma-separated (the servers of a cluster). */
  readonly nats?: string;
  readonly creds?: string;
  readonly nkey?: string;
  readonly user?: string;
  readonly password?: string;
  readonly tlsCa?: string;
  readonly tlsCert?: string;
  readonly tlsKey?: string;
}

/** A bad NATS setting: names the option (or variable) and the reason, on one line. */
export class NatsAuthError extends EntropyError {
  override name = 'NatsAuthError';
  constructor(
    readonly option: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(ErrorCode.NatsAuth, `${option}: ${message}`, { ...options, context: { option } });
  }
}

/** What a client connects with. */
export interface NatsClientSettings {
  readonly servers: string[];
  /** The user the connection authenticates as, or names with its nkey; absent on an open server. */
  readonly user?: string;
  /** To spread into nats.js `connect()`: credentials, TLS, the user's own inbox prefix. */
  readonly options: Pick<ConnectionOptions, 'user' | 'pass' | 'authenticator' | 'tls' | 'inboxPrefix'>;
}

/** `KEY=VALUE` lines (an environment file: systemd's EnvironmentFile, `set -a; . FILE`); blank lines and `#` comments skipped. */
export function parseCredentials(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const m = /^\s*(?:export\s+)?([A-Z_][A-Z0-9_]*)=(.*)$/.exec(line);
    if (!m) continue;
    let value = m[2]!.trim();
    if (value.length >= 2 && (value[0] === '"' || value[0] === "'") && value.at(-1) === value[0])
      value = value.slice(1, -1);
    out[m[1]!] = value;
  }
  return out;
}

/** `nats://a:4222,nats://b:4222` -> the servers, each checked to be a URL (nats://, tls://, ws://) or host:port. */
export function parseServers(text: string, option = '--nats'): string[] {
  const servers = text
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (servers.length === 0)
    throw new NatsAuthError(option, 'give a server URL (nats://host:4222), or several comma-separated');
  for (const s of servers) {
    let url: URL | undefined;
    try {
      url = new URL(s.includes('://') ? s : `nats://${s}`);
    } catch {
      url = undefined;
    }
    if (
      !url ||
      !['nats:', 'tls:', 'ws:', 'wss:'].includes(url.protocol) ||
      url.hostname === '' ||
      (url.pathname !== '' && url.pathname !== '/')
    ) {
      throw new NatsAuthError(option, `${JSON.stringify(s)} is not a NATS server URL (nats://host:4222)`);
    }
  }
  return servers;
}

/** A small regular file, read whole: a credentials or seed file, never a device or a directory. */
async function readSecretFile(option: string, path: string): Promise<string> {
  let handle;
  try {
    handle = await open(path, 'r');
    const info = await handle.stat();
    if (!info.isFile()) throw new NatsAuthError(option, `${path} is not a regular file`);
    if (info.size > MAX_SECRET_FILE_BYTES)
      throw new NatsAuthError(
        option,
        `${path} is ${info.size} bytes, more than a credentials file (${MAX_SECRET_FILE_BYTES})`,
      );
    return await handle.readFile('utf8');
  } catch (err) {
    if (err instanceof NatsAuthError) throw err;
    throw new NatsAuthError(
      option,
      `cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
      { cause: err },
    );
  } finally {
    await handle?.close();
  }
}

function userSeed(option: string, text: string): Uint8Array {
  const seed = NKEY_USER_SEED_RE.exec(text)?.[0];
  if (seed === undefined) throw new NatsAuthError(option, 'holds no nkey user seed (SU..., as nk -gen user writes it)');
  try {
    nkeys.fromSeed(new TextEncoder().encode(seed));
  } catch (err) {
    throw new NatsAuthError(option, `not a valid nkey seed: ${(err as Error).message}`, { cause: err });
  }
  return new TextEncoder().encode(seed);
}

/**
 * Resolves the servers, credentials and TLS files of a client. `env` is the process environment;
 * files named are read here (a missing or unreadable one is a NatsAuthError naming the option).
 */
export async function natsClientSettings(
  flags: NatsAuthFlags,
  env: NodeJS.ProcessEnv = process.env,
): Promise<NatsClientSettings> {
  const credsPath = flags.creds ?? env[NatsEnv.Creds];
  const credsOption = flags.creds !== undefined ? '--creds' : `$${NatsEnv.Creds}`;
  const file = credsPath ? parseCredentials(await readSecretFile(credsOption, credsPath)) : {};
  const pick = (flag: string | undefined, key: string) => flag ?? (env[key] || undefined) ?? (file[key] || undefined);
  const servers = parseServers(pick(flags.nats, NatsEnv.Url) ?? DEFAULT_NATS_URL);
  const user = pick(flags.user, NatsEnv.User);
  const pass = pick(flags.password, NatsEnv.Password);
  const nkeyFile = flags.nkey ?? (env[NatsEnv.Nkey] || undefined);
  let seed: Uint8Array | undefined;
  if (nkeyFile)
    seed = userSeed(flags.nkey !== undefined ? '--nkey' : `$${NatsEnv.Nkey}`, await readSecretFile('--nkey', nkeyFile));
  else if (env[NatsEnv.NkeySeed] || file[NatsEnv.NkeySeed])
    seed = userSeed(NatsEnv.NkeySeed, env[NatsEnv.NkeySeed] || file[NatsEnv.NkeySeed]!);
  if (seed && pass) throw new NatsAuthError('--nkey', 'give an nkey or a password, not both');
  if (pass && !user)
    throw new NatsAuthError(NatsEnv.User, `a password and no user name (set ${NatsEnv.User}, or use --creds)`);
  if (user && !pass && !seed)
    throw new NatsAuthError(
      NatsEnv.Password,
      `user ${user} and no password or nkey (set ${NatsEnv.Password}, or use --creds)`,
    );
  if (user !== undefined && !TOKEN_RE.test(user))
    throw new NatsAuthError(NatsEnv.User, `${JSON.stringify(user)} is not a user name (${TOKEN_RE.source})`);
  const ca = pick(flags.tlsCa, NatsEnv.TlsCa);
  const cert = pick(flags.tlsCert, NatsEnv.TlsCert);
  const key = pick(flags.tlsKey, NatsEnv.TlsKey);
  if ((cert === undefined) !== (key === undefined))
    throw new NatsAuthError(
      cert === undefined ? '--tls-cert' : '--tls-key',
      'a client certificate needs both --tls-cert and --tls-key',
    );
  const options: NatsClientSettings['options'] = {
    ...(seed ? { authenticator: nkeyAuthenticator(seed) } : user ? { user, pass } : {}),
    ...(ca || cert
      ? { tls: { ...(ca ? { caFile: ca } : {}), ...(cert ? { certFile: cert, keyFile: key } : {}) } }
      : {}),
    ...(user ? { inboxPrefix: inboxPrefixOf(user) } : {}),
  };
  return { servers, ...(user ? { user } : {}), options };
}
