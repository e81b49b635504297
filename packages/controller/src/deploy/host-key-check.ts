import { appendFileSync, chmodSync, closeSync, existsSync, fstatSync, mkdirSync, openSync, readSync } from 'node:fs';
import { dirname } from 'node:path';
import { readInputBytes } from '../command-io/input-file.ts';
import { DeployErrorCode, EntropyError, ErrorCode } from '@entropy/protocol';
import {
  checkHostKey,
  fingerprintOf,
  type KnownHostEntry,
  knownHostName,
  knownHostsLine,
  keyTypeLabel,
  keyTypeOf,
  parseKnownHosts,
  preferredAlgorithms,
} from './known-hosts.ts';
import { type HostKeyVerifier, SshError, type SshTarget } from './ssh-session.ts';

export interface HostKeyCheckOptions {
  /** OpenSSH known_hosts file (`--known-hosts`, default ~/.ssh/known_hosts); absent is empty. */
  readonly file: string;
  /** Trust a host no line names, and add its key to the file (`--accept-new`); a changed key is refused all the same. */
  readonly acceptNew?: boolean;
  /** A dry run accepts new keys for its session but writes nothing. */
  readonly dryRun?: boolean;
}

export type HostKeyResult = ReturnType<HostKeyVerifier['verify']>;

const sq = (s: string) => `'${s.replaceAll("'", `'\\''`)}'`;

/**
 * The installer's host key check, for every host of one run: the known_hosts file is read once,
 * and a key accepted with --accept-new is appended to it (one line per key, appends in turn, so
 * that hosts checked at once do not interleave) and counts as known for the rest of the run.
 */
export class HostKeyCheck implements HostKeyVerifier {
  private constructor(
    private readonly options: HostKeyCheckOptions,
    private readonly entries: KnownHostEntry[],
  ) {}

  static load(options: HostKeyCheckOptions): HostKeyCheck {
    let text = '';
    if (existsSync(options.file)) {
      try {
        text = readInputBytes(options.file).toString('utf8');
      } catch (cause) {
        throw new EntropyError(ErrorCode.Io, `--known-hosts: ${(cause as Error).message}`, { cause });
      }
    }
    return new HostKeyCheck(options, parseKnownHosts(text));
  }

  /** The host key algorithms to offer `target`: those of its known keys first. */
  algorithms(target: SshTarget): string[] {
    return preferredAlgorithms(this.entries, knownHostName(target.host, target.port));
  }

  verify(target: SshTarget, key: Buffer): HostKeyResult {
    const name = knownHostName(target.host, target.port);
    const fingerprint = fingerprintOf(key);
    const type = keyTypeOf(key) ?? 'unknown-type';
    const presented = `${keyTypeLabel(type)} key ${fingerprint}`;
    const file = this.options.file;
    const verdict = checkHostKey(this.entries, name, key);
    switch (verdict.kind) {
      case 'known':
        return { ok: true, fingerprint, status: 'known' };
      case 'revoked':
        return {
          ok: false,
          error: new SshError(
            DeployErrorCode.SshHostKeyRevoked,
            `host key of ${name} is revoked (${file} line ${verdict.line}): ${presented}; refused`,
          ),
        };
      case 'changed': {
        const held = verdict.lines
          .map((e) => `line ${e.line} ${keyTypeLabel(e.keyType)} ${fingerprintOf(e.key)}`)
          .join(', ');
        return {
          ok: false,
          error: new SshError(
            DeployErrorCode.SshHostKeyChanged,
            `HOST KEY CHANGED for ${name}: it presents ${presented}, ${file} holds ${held}; refused, even with --accept-new (another machine may answer in its place; ` +
              `if the host was reinstalled, check its new key there and remove the old one: ssh-keygen -R ${sq(name)} -f ${sq(file)})`,
          ),
        };
      }
      case 'unknown':
        if (!this.options.acceptNew) {
          const pub = type === 'ssh-rsa' ? 'rsa' : type.startsWith('ecdsa-') ? 'ecdsa' : 'ed25519';
          return {
            ok: false,
            error: new SshError(
              DeployErrorCode.SshHostKeyUnknown,
              `unknown host key for ${name}: ${presented}, not in ${file}; compare it with ssh-keygen -lf /etc/ssh/ssh_host_${pub}_key.pub on the host, then run again with --accept-new to add it`,
            ),
          };
        }
        if (this.options.dryRun) return { ok: true, fingerprint, status: 'would-add' };
        this.add(name, key);
        return { ok: true, fingerprint, status: 'added' };
    }
  }

  private add(name: string, key: Buffer): void {
    const file = this.options.file;
    try {
      if (!existsSync(dirname(file))) mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
      const created = !existsSync(file);
      appendFileSync(file, `${endsWithoutNewline(file) ? '\n' : ''}${knownHostsLine(name, key)}\n`, { mode: 0o644 });
      if (created) chmodSync(file, 0o644);
    } catch (cause) {
      throw new SshError(
        DeployErrorCode.Ssh,
        `cannot add the host key of ${name} to ${file} (${(cause as NodeJS.ErrnoException).code ?? cause})`,
        { cause },
      );
    }
    this.entries.push(...parseKnownHosts(knownHostsLine(name, key)));
  }
}

function endsWithoutNewline(file: string): boolean {
  if (!existsSync(file)) return false;
  const fd = openSync(file, 'r');
  try {
    const size = fstatSync(fd).size;
    if (size === 0) return false;
    const last = Buffer.alloc(1);
    readSync(fd, last, 0, 1, size - 1);
    return last[0] !== 0x0a;
  } finally {
    closeSync(fd);
  }
}
