import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { CommandResult } from '../command-io/io.ts';
import { table } from '../command-io/text-table.ts';
import { EntropyError, ErrorCode } from '@entropy/protocol';
import { buildAgentBundle } from './agent-bundle.ts';
import { WORKSPACE_ROOT } from '../workspace.ts';
import { HostKeyCheck } from './host-key-check.ts';
import { parseHosts } from './hosts.ts';
import { type HostResult, INSTALL_DRIVERS, type InstallDriver, installHosts } from './installer.ts';
import { type Connector, type SshAuth, sshConnect } from './ssh-session.ts';
import { EXIT_HOST_FAILED } from './exit-codes.ts';

/** Exit code when at least one host failed (0: all succeeded, 1: bad input). */
export { EXIT_HOST_FAILED };

export interface InstallCommandOptions {
  readonly hosts: string;
  readonly nats: string;
  readonly driver: string;
  readonly identity?: string;
  readonly capacity?: string;
  readonly agentArgs?: string;
  readonly credsDir?: string;
  readonly root?: string;
  readonly bundle?: string;
  readonly dryRun?: boolean;
  /** OpenSSH known_hosts file the host keys are checked against (default ~/.ssh/known_hosts). */
  readonly knownHosts?: string;
  /** Add the key of a host the file does not name yet (a changed key is refused all the same). */
  readonly acceptNew?: boolean;
  /** Tests plug in another connector. */
  readonly connect?: Connector;
}

async function sshAuth(identity: string | undefined, env: NodeJS.ProcessEnv): Promise<SshAuth> {
  const read = async (file: string) => ({ privateKey: await readFile(file, 'utf8'), keyName: file });
  if (identity) {
    try {
      return await read(identity);
    } catch (cause) {
      throw new EntropyError(
        ErrorCode.Io,
        `--identity: cannot read ${identity} (${(cause as NodeJS.ErrnoException).code ?? cause})`,
        { cause },
      );
    }
  }
  if (env.SSH_AUTH_SOCK) return { agent: env.SSH_AUTH_SOCK };
  for (const name of ['id_ed25519', 'id_ecdsa', 'id_rsa']) {
    try {
      return await read(join(homedir(), '.ssh', name));
    } catch {
      // try the next one
    }
  }
  throw new EntropyError(ErrorCode.Io, 'no SSH key: give --identity KEY, or run an ssh-agent');
}

export function formatResults(results: readonly HostResult[], knownHosts = '~/.ssh/known_hosts'): string {
  const rows = results.map((r) => [
    r.node,
    r.address,
    r.ok ? r.outcome : r.outcome.toUpperCase(),
    r.nodeVersion ?? '-',
    r.detail,
  ]);
  const keys = (status: string) =>
    results.filter((r) => r.hostKey && r.hostKeyStatus === status).map((r) => `  ${r.node} ${r.hostKey}`);
  const added = keys('added');
  const wouldAdd = keys('would-add');
  const failed = results.filter((r) => !r.ok).length;
  return [
    ...table(['NODE', 'ADDRESS', 'RESULT', 'NODE.JS', 'DETAIL'], rows),
    ...(added.length
      ? [
          `host keys added to ${knownHosts} (compare with ssh-keygen -lf /etc/ssh/ssh_host_*_key.pub on each host):`,
          ...added,
        ]
      : []),
    ...(wouldAdd.length
      ? [`host keys --accept-new would add to ${knownHosts} (a dry run writes nothing):`, ...wouldAdd]
      : []),
    failed ? `${failed} of ${results.length} hosts failed` : `all ${results.length} hosts succeeded`,
  ].join('\n');
}

export async function installCommand(
  opts: InstallCommandOptions,
  env: NodeJS.ProcessEnv = process.env,
): Promise<CommandResult> {
  const hosts = parseHosts(opts.hosts);
  if (!(INSTALL_DRIVERS as readonly string[]).includes(opts.driver)) {
    throw new EntropyError(
      ErrorCode.Io,
      `--driver: must be one of ${INSTALL_DRIVERS.join(', ')}, got ${JSON.stringify(opts.driver)}`,
    );
  }
  if (!/^(nats|tls):\/\/[^\s"']+$/.test(opts.nats))
    throw new EntropyError(ErrorCode.Io, `--nats: expected nats://HOST:PORT, got ${JSON.stringify(opts.nats)}`);
  if (opts.capacity !== undefined && !/^[A-Za-z0-9_]+=\d+(\.\d+)?(,[A-Za-z0-9_]+=\d+(\.\d+)?)*$/.test(opts.capacity)) {
    throw new EntropyError(ErrorCode.Io, `--capacity: expected cpu=16,mem=65536, got ${JSON.stringify(opts.capacity)}`);
  }
  if (opts.agentArgs !== undefined && /["'\\\n$`]/.test(opts.agentArgs))
    throw new EntropyError(ErrorCode.Io, '--agent-args: no quotes, backslashes, $ or newlines');
  const auth = await sshAuth(opts.identity, env);
  const knownHosts = opts.knownHosts ?? join(env.HOME || homedir(), '.ssh', 'known_hosts');
  const hostKeys = HostKeyCheck.load({ file: knownHosts, acceptNew: opts.acceptNew, dryRun: opts.dryRun });
  const unitText = await readFile(join(WORKSPACE_ROOT, 'deploy/systemd/entropy-agent@.service'), 'utf8');
  const bundle = opts.dryRun || opts.bundle ? undefined : await buildAgentBundle();
  try {
    const results = await installHosts(hosts, {
      natsUrl: opts.nats,
      driver: opts.driver as InstallDriver,
      capacity: opts.capacity,
      agentArgs: opts.agentArgs,
      credsDir: opts.credsDir,
      root: opts.root,
      dryRun: opts.dryRun,
      bundleFile: opts.bundle ?? bundle?.file,
      unitText,
      auth,
      connect: opts.connect ?? ((target, a) => sshConnect(target, a, hostKeys)),
    });
    return { output: formatResults(results, knownHosts), exitCode: results.every((r) => r.ok) ? 0 : EXIT_HOST_FAILED };
  } finally {
    await bundle?.dispose();
  }
}
