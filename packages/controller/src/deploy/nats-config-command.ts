import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { DEFAULT_PREFIX, EntropyError, ErrorCode, ProtocolError, TOKEN_RE } from '@entropy/protocol';
import type { CommandResult } from '../command-io/io.ts';
import { clusterUsers, credentialsFile, generatePassword, natsServerConfig, parseCredentialsFile } from './nats-config.ts';

export const DEFAULT_CONFIG_FILE = 'nats-server.conf';

export interface NatsConfigCommandOptions {
  readonly nodes: readonly string[];
  readonly prefix?: string;
  readonly out?: string;
  /** Default: `creds/` beside the config file. */
  readonly credsDir?: string;
  readonly listen?: string;
  readonly storeDir?: string;
  /** New passwords for every user, even those whose credentials file exists. */
  readonly rotate?: boolean;
}

/** The credentials file of a user, as `entropy deploy install --creds-dir` looks it up. */
export function credentialsPath(credsDir: string, user: string): string {
  return join(credsDir, `${user}.env`);
}

async function existingPassword(file: string): Promise<string | undefined> {
  try {
    return parseCredentialsFile(await readFile(file, 'utf8')).password || undefined;
  } catch {
    return undefined;
  }
}

async function writeSecret(file: string, text: string): Promise<void> {
  await writeFile(file, text, { mode: 0o600 });
  await chmod(file, 0o600); // writeFile's mode applies only to a file it creates
}

/**
 * Writes the server config and one credentials file per user (mode 0600). Existing credentials are
 * kept unless `rotate`, so adding a node does not change the passwords of running agents.
 */
export async function natsConfigCommand(opts: NatsConfigCommandOptions): Promise<CommandResult> {
  if (opts.nodes.length === 0) throw new EntropyError(ErrorCode.Io, '--nodes: give at least one node id (n1,n2,...)');
  const bad = opts.nodes.find((n) => !TOKEN_RE.test(n));
  if (bad !== undefined) throw new EntropyError(ErrorCode.Io, `--nodes: ${JSON.stringify(bad)} is not a node id (one subject token: ${TOKEN_RE.source})`);
  const out = opts.out ?? DEFAULT_CONFIG_FILE;
  const credsDir = opts.credsDir ?? join(dirname(out), 'creds');
  const users = clusterUsers([...new Set(opts.nodes)]);
  const passwords = new Map<string, string>();
  for (const user of users) {
    const kept = opts.rotate ? undefined : await existingPassword(credentialsPath(credsDir, user));
    passwords.set(user, kept ?? generatePassword());
  }
  let text: string;
  try {
    text = natsServerConfig({ nodes: opts.nodes, prefix: opts.prefix ?? DEFAULT_PREFIX, listen: opts.listen, storeDir: opts.storeDir, passwords });
  } catch (cause) {
    throw new EntropyError(ErrorCode.Io, cause instanceof ProtocolError ? `--nodes/--prefix: ${cause.message}` : (cause as Error).message, { cause });
  }
  try {
    await mkdir(dirname(out), { recursive: true });
    await mkdir(credsDir, { recursive: true, mode: 0o700 });
    await writeSecret(out, text);
    for (const user of users) await writeSecret(credentialsPath(credsDir, user), credentialsFile(user, passwords.get(user)!));
  } catch (cause) {
    const e = cause as NodeJS.ErrnoException;
    throw new EntropyError(ErrorCode.Io, `cannot write ${e.path ?? out}: ${e.code ?? e.message}`, { cause });
  }
  return {
    output: [
      `wrote ${out} (${opts.nodes.length} agent users and ${users[0]}, JetStream on; mode 0600)`,
      `wrote ${users.length} credentials files in ${credsDir}/ (mode 0600): ${users.map((u) => `${u}.env`).join(', ')}`,
      `check it: nats-server -c ${out} -t`,
    ].join('\n'),
    exitCode: 0,
  };
}
