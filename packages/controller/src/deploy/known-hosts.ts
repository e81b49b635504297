import { createHash, createHmac, timingSafeEqual } from 'node:crypto';

/**
 * OpenSSH's known_hosts format, read and matched as `ssh` does (sshd(8), "SSH_KNOWN_HOSTS FILE
 * FORMAT"): one key per line, `[@marker] patterns keytype base64 [comment]`; patterns are
 * comma-separated host names with `*` and `?` wildcards and `!` negations, or one hashed name
 * `|1|salt|hmac` (HashKnownHosts); a host on another port than 22 is named `[host]:port`. Pure:
 * the file is read and written by host-key-check.ts.
 */

export interface KnownHostEntry {
  /** 1-based line number in the file, for messages. */
  readonly line: number;
  readonly marker?: 'revoked' | 'cert-authority';
  /** The patterns field as written: `host,*.example.org,!bad.example.org` or `|1|salt|hash`. */
  readonly patterns: string;
  readonly keyType: string;
  /** The key blob (SSH wire format: its own type name first, then the key). */
  readonly key: Buffer;
}

/** Key types this reader compares; a line of another type is kept but never matches a presented key. */
export const HOST_KEY_TYPES = [
  'ssh-ed25519',
  'ecdsa-sha2-nistp256',
  'ecdsa-sha2-nistp384',
  'ecdsa-sha2-nistp521',
  'ssh-rsa',
] as const;

/** The ssh2 host key algorithms of each key type, in ssh2's order of preference. */
const ALGORITHMS_OF: Readonly<Record<string, readonly string[]>> = {
  'ssh-ed25519': ['ssh-ed25519'],
  'ecdsa-sha2-nistp256': ['ecdsa-sha2-nistp256'],
  'ecdsa-sha2-nistp384': ['ecdsa-sha2-nistp384'],
  'ecdsa-sha2-nistp521': ['ecdsa-sha2-nistp521'],
  'ssh-rsa': ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'],
};

/** Reads every well-formed line; comments, blank and malformed lines are skipped, as ssh skips them. */
export function parseKnownHosts(text: string): KnownHostEntry[] {
  const entries: KnownHostEntry[] = [];
  text.split('\n').forEach((raw, i) => {
    const fields = raw.trim().split(/\s+/);
    if (fields[0] === '' || fields[0]!.startsWith('#')) return;
    let marker: KnownHostEntry['marker'];
    if (fields[0] === '@revoked' || fields[0] === '@cert-authority')
      marker = fields.shift()!.slice(1) as KnownHostEntry['marker'];
    const [patterns, keyType, base64] = fields;
    if (!patterns || !keyType || !base64 || !/^[A-Za-z0-9+/]+={0,2}$/.test(base64)) return;
    const key = Buffer.from(base64, 'base64');
    if (keyTypeOf(key) !== keyType) return;
    entries.push({ line: i + 1, ...(marker ? { marker } : {}), patterns, keyType, key });
  });
  return entries;
}

/** The name ssh looks a host up by: `host` on port 22, `[host]:port` otherwise; lower case. */
export function knownHostName(host: string, port: number): string {
  const h = host.toLowerCase();
  return port === 22 ? h : `[${h}]:${port}`;
}

/** The type name at the head of a key blob (`ssh-ed25519`), or undefined when the blob is malformed. */
export function keyTypeOf(key: Buffer): string | undefined {
  if (key.length < 4) return undefined;
  const n = key.readUInt32BE(0);
  if (n === 0 || n > 64 || 4 + n > key.length) return undefined;
  return key.subarray(4, 4 + n).toString('latin1');
}

/** `SHA256:...`, as `ssh-keygen -lf` prints it. */
export function fingerprintOf(key: Buffer): string {
  return `SHA256:${createHash('sha256').update(key).digest('base64').replace(/=+$/, '')}`;
}

/** `ED25519`, `ECDSA`, `RSA`: how ssh-keygen names a type. */
export function keyTypeLabel(keyType: string): string {
  if (keyType === 'ssh-ed25519') return 'ED25519';
  if (keyType.startsWith('ecdsa-')) return 'ECDSA';
  if (keyType === 'ssh-rsa') return 'RSA';
  return keyType;
}

/** The line to add for a host (plain, not hashed: `ssh-keygen -H` hashes a file afterwards). */
export function knownHostsLine(name: string, key: Buffer): string {
  return `${name} ${keyTypeOf(key)} ${key.toString('base64')}`;
}

/** `*` and `?` as in ssh's match_pattern: whole-name match, case-insensitive (names are lower-cased first). */
function wildcardMatches(name: string, pattern: string): boolean {
  const re = new RegExp(
    `^${pattern
      .toLowerCase()
      .replace(/[.+^${}()|[\]\\]/g, '\\$&')
      .replace(/\*/g, '.*')
      .replace(/\?/g, '.')}$`,
  );
  return re.test(name);
}

function hashedMatches(name: string, field: string): boolean {
  const m = /^\|1\|([A-Za-z0-9+/=]+)\|([A-Za-z0-9+/=]+)$/.exec(field);
  if (!m) return false;
  const want = Buffer.from(m[2]!, 'base64');
  const got = createHmac('sha1', Buffer.from(m[1]!, 'base64')).update(name).digest();
  return want.length === got.length && timingSafeEqual(want, got);
}

/** Whether an entry's patterns name the host: a negated pattern that matches wins over any other. */
export function patternsMatch(patterns: string, name: string): boolean {
  if (patterns.startsWith('|')) return hashedMatches(name, patterns);
  let matched = false;
  for (const p of patterns.split(',')) {
    const negated = p.startsWith('!');
    if (!wildcardMatches(name, negated ? p.slice(1) : p)) continue;
    if (negated) return false;
    matched = true;
  }
  return matched;
}

export type HostKeyVerdict =
  /** A line holds this very key. */
  | { readonly kind: 'known'; readonly line: number }
  /** No line names the host. */
  | { readonly kind: 'unknown' }
  /** Lines name the host with other keys: the host, or whoever answers in its place, presents a key they do not hold. */
  | { readonly kind: 'changed'; readonly lines: readonly KnownHostEntry[] }
  /** A `@revoked` line holds this key. */
  | { readonly kind: 'revoked'; readonly line: number };

/**
 * What the file says of `key` presented by the host `name`. Stricter than ssh in one case: a host
 * that presents a key of a type no line holds, while lines hold keys of other types for it, is
 * `changed`, not new (ssh asks the user then); the client offers the known types first
 * (`preferredAlgorithms`), so a genuine host presents one of those.
 */
export function checkHostKey(entries: readonly KnownHostEntry[], name: string, key: Buffer): HostKeyVerdict {
  const revoked = entries.find((e) => e.marker === 'revoked' && e.key.equals(key));
  if (revoked) return { kind: 'revoked', line: revoked.line };
  const forHost = entries.filter((e) => e.marker === undefined && patternsMatch(e.patterns, name));
  const same = forHost.find((e) => e.key.equals(key));
  if (same) return { kind: 'known', line: same.line };
  return forHost.length === 0 ? { kind: 'unknown' } : { kind: 'changed', lines: forHost };
}

/** ssh2's host key algorithms, those of the key types known for the host first (ssh does the same). */
export function preferredAlgorithms(entries: readonly KnownHostEntry[], name: string): string[] {
  const all = HOST_KEY_TYPES.flatMap((t) => ALGORITHMS_OF[t]!);
  const known = new Set(
    entries
      .filter((e) => e.marker === undefined && patternsMatch(e.patterns, name))
      .flatMap((e) => ALGORITHMS_OF[e.keyType] ?? []),
  );
  return [...all.filter((a) => known.has(a)), ...all.filter((a) => !known.has(a))];
}
