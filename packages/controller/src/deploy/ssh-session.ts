import { Client, type ConnectConfig, type SFTPWrapper } from 'ssh2';
import { DeployErrorCode, EntropyError } from '@entropy/protocol';

/** Where to log in: `user@host:port`, as `--hosts` names it. */
export interface SshTarget {
  readonly user: string;
  readonly host: string;
  readonly port: number;
}

export interface SshAuth {
  /** Private key text (OpenSSH or PEM). */
  readonly privateKey?: string;
  /** Name of the key, for error messages. */
  readonly keyName?: string;
  readonly passphrase?: string;
  /** ssh-agent socket ($SSH_AUTH_SOCK). */
  readonly agent?: string;
}

export interface ExecResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** What the installer does on a host: the ssh2 session below, or a fake in unit tests. */
export interface RemoteSession {
  /** SHA256 fingerprint of the host key, as `ssh-keygen -lf` prints it. */
  readonly hostKey: string;
  /** How the host key passed the known_hosts check. */
  readonly hostKeyStatus?: HostKeyStatus;
  exec(command: string): Promise<ExecResult>;
  putFile(localPath: string, remotePath: string): Promise<void>;
  writeFile(remotePath: string, content: string, mode: number): Promise<void>;
  close(): void;
}

export type Connector = (target: SshTarget, auth: SshAuth) => Promise<RemoteSession>;

/** `known`: in known_hosts; `added` to it (--accept-new); `would-add`: accepted for a dry run, not written. */
export type HostKeyStatus = 'known' | 'added' | 'would-add';

/** Decides whether a host's key is trusted (host-key-check.ts, against a known_hosts file). */
export interface HostKeyVerifier {
  /** ssh2's host key algorithms to offer the target, in order. */
  algorithms(target: SshTarget): string[];
  verify(
    target: SshTarget,
    key: Buffer,
  ):
    | { readonly ok: true; readonly fingerprint: string; readonly status: HostKeyStatus }
    | { readonly ok: false; readonly error: SshError };
}

/** An SSH failure a user can act on: the message says what failed and what to check. */
export class SshError extends EntropyError {
  override name = 'SshError';
  declare readonly code: DeployErrorCode;
  constructor(code: DeployErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}

export const DEFAULT_READY_TIMEOUT_MS = 10_000;

function explain(
  err: NodeJS.ErrnoException & { level?: string },
  target: SshTarget,
  auth: SshAuth,
  timeoutMs: number,
): SshError {
  const where = `${target.user}@${target.host}:${target.port}`;
  if (err.level === 'client-authentication') {
    const how = auth.keyName ? `key ${auth.keyName}` : auth.agent ? 'the keys of ssh-agent' : 'no key';
    return new SshError(
      DeployErrorCode.SshAuth,
      `authentication failed for ${where} with ${how} (is its public key in ~${target.user}/.ssh/authorized_keys?)`,
      { cause: err },
    );
  }
  if (err.code === 'ECONNREFUSED')
    return new SshError(
      DeployErrorCode.SshConnect,
      `connection refused by ${target.host}:${target.port} (is sshd running there?)`,
      { cause: err },
    );
  if (err.code === 'ENOTFOUND' || err.code === 'EAI_AGAIN')
    return new SshError(DeployErrorCode.SshConnect, `unknown host ${target.host}`, { cause: err });
  if (err.code === 'EHOSTUNREACH' || err.code === 'ENETUNREACH')
    return new SshError(DeployErrorCode.SshConnect, `${target.host} is unreachable`, { cause: err });
  if (/timed out/i.test(err.message) || err.level === 'client-timeout') {
    return new SshError(DeployErrorCode.SshTimeout, `no SSH handshake with ${where} within ${timeoutMs} ms`, {
      cause: err,
    });
  }
  if (/passphrase|encrypted/i.test(err.message)) {
    return new SshError(
      DeployErrorCode.SshAuth,
      `cannot use key ${auth.keyName ?? ''}: ${err.message} (load it into ssh-agent instead)`,
      { cause: err },
    );
  }
  return new SshError(DeployErrorCode.Ssh, `${where}: ${err.message}`, { cause: err });
}

/** Logs in with ssh2, once `hostKeys` trusts the key the host presents; a refused key is the SshError that says why. */
export function sshConnect(
  target: SshTarget,
  auth: SshAuth,
  hostKeys: HostKeyVerifier,
  timeoutMs = DEFAULT_READY_TIMEOUT_MS,
): Promise<RemoteSession> {
  return new Promise((resolve, reject) => {
    const client = new Client();
    let accepted: { fingerprint: string; status: HostKeyStatus } | undefined;
    let refused: SshError | undefined;
    const config: ConnectConfig = {
      host: target.host,
      port: target.port,
      username: target.user,
      readyTimeout: timeoutMs,
      algorithms: {
        serverHostKey: hostKeys.algorithms(target) as NonNullable<ConnectConfig['algorithms']>['serverHostKey'],
      },
      hostVerifier: (key: Buffer) => {
        try {
          const r = hostKeys.verify(target, key);
          if (r.ok) accepted = { fingerprint: r.fingerprint, status: r.status };
          else refused = r.error;
        } catch (err) {
          refused =
            err instanceof SshError ? err : new SshError(DeployErrorCode.Ssh, (err as Error).message, { cause: err });
        }
        return accepted !== undefined;
      },
      ...(auth.privateKey ? { privateKey: auth.privateKey, passphrase: auth.passphrase } : {}),
      ...(auth.agent && !auth.privateKey ? { agent: auth.agent } : {}),
    };
    client.once('ready', () => resolve(new Ssh2Session(client, accepted!.fingerprint, accepted!.status)));
    client.once('error', (err) => {
      client.end();
      reject(refused ?? explain(err, target, auth, timeoutMs));
    });
    try {
      client.connect(config);
    } catch (err) {
      reject(explain(err as NodeJS.ErrnoException, target, auth, timeoutMs));
    }
  });
}

class Ssh2Session implements RemoteSession {
  private sftpSession?: Promise<SFTPWrapper>;

  constructor(
    private readonly client: Client,
    readonly hostKey: string,
    readonly hostKeyStatus: HostKeyStatus,
  ) {}

  exec(command: string): Promise<ExecResult> {
    return new Promise((resolve, reject) => {
      this.client.exec(command, (err, stream) => {
        if (err) return reject(err);
        let stdout = '';
        let stderr = '';
        stream.on('data', (b: Buffer) => (stdout += b.toString()));
        stream.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
        stream.on('close', (code: number | null, signal?: string) =>
          resolve({ code: code ?? (signal ? 128 : 255), stdout, stderr }),
        );
      });
    });
  }

  private sftp(): Promise<SFTPWrapper> {
    this.sftpSession ??= new Promise((resolve, reject) =>
      this.client.sftp((err, sftp) => (err ? reject(err) : resolve(sftp))),
    );
    return this.sftpSession;
  }

  async putFile(localPath: string, remotePath: string): Promise<void> {
    const sftp = await this.sftp();
    await new Promise<void>((resolve, reject) =>
      sftp.fastPut(localPath, remotePath, (err) => (err ? reject(sftpError(err, remotePath)) : resolve())),
    );
  }

  async writeFile(remotePath: string, content: string, mode: number): Promise<void> {
    const sftp = await this.sftp();
    await new Promise<void>((resolve, reject) =>
      sftp.writeFile(remotePath, content, { mode }, (err) => (err ? reject(sftpError(err, remotePath)) : resolve())),
    );
    // the mode of writeFile applies only to a file it creates
    await new Promise<void>((resolve, reject) =>
      sftp.chmod(remotePath, mode, (err) => (err ? reject(sftpError(err, remotePath)) : resolve())),
    );
  }

  close(): void {
    this.client.end();
  }
}

function sftpError(err: Error & { code?: number }, path: string): Error {
  // SFTP status codes: 2 no such file, 3 permission denied
  const why = err.code === 3 ? 'permission denied' : err.code === 2 ? 'no such directory' : err.message;
  return new Error(`cannot write ${path}: ${why}`, { cause: err });
}
