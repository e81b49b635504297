import { readFile } from 'node:fs/promises';
import { posix } from 'node:path';
import { credentialsPath } from './nats-config-command.ts';
import { agentUser, parseCredentialsFile, PASSWORD_ENV, USER_ENV } from './nats-config.ts';
import type { DeployHost } from './hosts.ts';
import type { Connector, HostKeyStatus, RemoteSession, SshAuth } from './ssh-session.ts';
import { DeployErrorCode, EntropyError } from '@entropy/protocol';

/** Where an agent lives on a node; `--root` prefixes them all (a staged install, like DESTDIR). */
export const AGENT_DIR = '/opt/entropy/agent';
export const AGENT_ENV_FILE = '/etc/entropy/agent.env';
/** The agents' state directories, one per node (entropy-agent's default --state-dir). */
export const AGENT_STATE_DIR = '/var/lib/entropy/agent';
export const AGENT_UNIT_FILE = '/etc/systemd/system/entropy-agent@.service';
export const MIN_NODE_MAJOR = 20;
export const INSTALL_DRIVERS = ['xl', 'virsh', 'sim'] as const;
export type InstallDriver = (typeof INSTALL_DRIVERS)[number];

export interface InstallOptions {
  readonly natsUrl: string;
  readonly driver: InstallDriver;
  /** `cpu=16,mem=65536`; default: the host's `nproc` and MemTotal. */
  readonly capacity?: string;
  /** Extra agent options, written as ENTROPY_AGENT_ARGS. */
  readonly agentArgs?: string;
  /** Directory of `entropy deploy nats-config`'s credentials files; without it the agents connect without a user. */
  readonly credsDir?: string;
  readonly root?: string;
  readonly dryRun?: boolean;
  /** The agent bundle (.tar.gz); unused in a dry run. */
  readonly bundleFile?: string;
  /** Text of deploy/systemd/entropy-agent@.service. */
  readonly unitText: string;
  readonly auth: SshAuth;
  readonly connect: Connector;
}

export interface HostResult {
  readonly node: string;
  readonly address: string;
  readonly ok: boolean;
  /** What happened: `installed`, `started`, `checked` (dry run) or the failing step. */
  readonly outcome: string;
  readonly nodeVersion?: string;
  readonly hostKey?: string;
  readonly hostKeyStatus?: HostKeyStatus;
  /** One line: the error, or how the agent was (or is to be) started. */
  readonly detail: string;
}

const sq = (s: string) => `'${s.replaceAll("'", `'\\''`)}'`;

/** `v20.11.1` -> ok; anything else says what is missing. */
export function checkNodeVersion(output: string): { ok: true; version: string } | { ok: false; reason: string } {
  const v = output.trim();
  if (!v)
    return {
      ok: false,
      reason: `Node.js not found on PATH: install Node ${MIN_NODE_MAJOR} or later (e.g. apt-get install nodejs, from NodeSource for Debian 12)`,
    };
  const m = /^v(\d+)\.\d+\.\d+/.exec(v);
  if (!m) return { ok: false, reason: `cannot read the Node.js version from ${JSON.stringify(v.slice(0, 80))}` };
  if (Number(m[1]) < MIN_NODE_MAJOR)
    return { ok: false, reason: `Node.js ${v} found, ${MIN_NODE_MAJOR} or later is needed` };
  return { ok: true, version: v };
}

const PROBE = [
  'if command -v node >/dev/null 2>&1; then echo "node=$(node --version 2>&1)"; else echo node=; fi',
  'if [ -d /run/systemd/system ]; then echo systemd=yes; else echo systemd=no; fi',
  'echo "cpus=$(nproc 2>/dev/null)"',
  `echo "memkb=$(awk '/^MemTotal:/ {print $2}' /proc/meminfo 2>/dev/null)"`,
].join('; ');

function parseProbe(stdout: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of stdout.split('\n')) {
    const i = line.indexOf('=');
    if (i > 0) out[line.slice(0, i)] = line.slice(i + 1).trim();
  }
  return out;
}

/** The agent's environment file: read by systemd (EnvironmentFile) and by `sh` (`set -a; . FILE`). */
export function agentEnvFile(
  node: string,
  values: {
    natsUrl: string;
    driver: string;
    capacity: string;
    user?: string;
    password?: string;
    agentArgs?: string;
    stateDir?: string;
  },
): string {
  const lines = [
    `# Written by entropy deploy install for node ${node}; read by entropy-agent@${node}.service. Holds the NATS password: mode 0600.`,
    `ENTROPY_NATS_URL=${values.natsUrl}`,
    `ENTROPY_DRIVER=${values.driver}`,
    `ENTROPY_CAPACITY=${values.capacity}`,
  ];
  // What the agent keeps across its restarts (action ledger, VM metadata, fencing token); staged installs keep it under their root.
  if (values.stateDir) lines.push(`ENTROPY_STATE_DIR=${values.stateDir}`);
  if (values.user) lines.push(`${USER_ENV}=${values.user}`, `${PASSWORD_ENV}=${values.password ?? ''}`);
  if (values.agentArgs) lines.push(`ENTROPY_AGENT_ARGS="${values.agentArgs}"`);
  return `${lines.join('\n')}\n`;
}

/** How to run the agent without systemd, with the files where they were written. */
export function agentStartCommand(node: string, root = ''): string {
  const script = `set -a; . ${root}${AGENT_ENV_FILE}; exec node ${root}${AGENT_DIR}/bin/entropy-agent.js --node ${node} --nats "$ENTROPY_NATS_URL" --driver "$ENTROPY_DRIVER" --capacity "$ENTROPY_CAPACITY" $ENTROPY_AGENT_ARGS`;
  return `sh -c ${sq(script)}`;
}

class StepError extends EntropyError {
  constructor(
    readonly step: string,
    message: string,
  ) {
    super(DeployErrorCode.InstallStep, message, { context: { step } });
  }
}

async function step(session: RemoteSession, name: string, command: string): Promise<string> {
  const r = await session.exec(command);
  if (r.code !== 0) {
    const why = (r.stderr || r.stdout).trim().split('\n').slice(-2).join(' ') || `exit code ${r.code}`;
    throw new StepError(name, why);
  }
  return r.stdout;
}

async function readCredentials(credsDir: string, node: string): Promise<{ user: string; password: string }> {
  const file = credentialsPath(credsDir, agentUser(node));
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch {
    throw new StepError(
      'credentials',
      `no credentials file ${file} (run entropy deploy nats-config --nodes ... --creds-dir ${credsDir})`,
    );
  }
  const c = parseCredentialsFile(text);
  if (!c.user || !c.password) throw new StepError('credentials', `${file} lacks ${USER_ENV} or ${PASSWORD_ENV}`);
  return { user: c.user, password: c.password };
}

/**
 * Installs the agent on one host: checks Node, unpacks the bundle next to the previous install and swaps
 * it in, writes the environment file and the unit, then starts the agent when systemd runs there.
 * Never throws: a failure is the host's result, so the other hosts go on.
 */
export async function installHost(host: DeployHost, opts: InstallOptions): Promise<HostResult> {
  const address = `${host.user}@${host.host}:${host.port}`;
  const base = { node: host.node, address };
  let session: RemoteSession | undefined;
  let nodeVersion: string | undefined;
  try {
    const creds = opts.credsDir ? await readCredentials(opts.credsDir, host.node) : undefined;
    try {
      session = await opts.connect(host, opts.auth);
    } catch (err) {
      throw new StepError('connect', (err as Error).message);
    }
    const probe = parseProbe(await step(session, 'probe', PROBE));
    const node = checkNodeVersion(probe.node ?? '');
    if (!node.ok) throw new StepError('node.js', node.reason);
    nodeVersion = node.version;
    const capacity =
      opts.capacity ?? `cpu=${Number(probe.cpus) || 1},mem=${Math.floor(Number(probe.memkb) / 1024) || 1024}`;
    const root = opts.root ? posix.resolve(opts.root) : '';
    const systemd = probe.systemd === 'yes' && !root;
    const startBy = systemd ? `systemctl enable --now entropy-agent@${host.node}` : agentStartCommand(host.node, root);
    const extra = { ...base, nodeVersion, hostKey: session.hostKey, hostKeyStatus: session.hostKeyStatus };
    if (opts.dryRun) {
      return {
        ...extra,
        ok: true,
        outcome: 'checked',
        detail: `would install ${root}${AGENT_DIR}, capacity ${capacity}, then: ${startBy}`,
      };
    }
    if (!opts.bundleFile) throw new StepError('bundle', 'no agent bundle to copy');

    const dir = `${root}${AGENT_DIR}`;
    const parent = posix.dirname(dir);
    const tgz = `${parent}/.entropy-agent-${process.pid}.tgz`;
    await step(
      session,
      'mkdir',
      `mkdir -p ${sq(parent)} ${sq(posix.dirname(root + AGENT_ENV_FILE))} ${sq(posix.dirname(root + AGENT_UNIT_FILE))}`,
    );
    try {
      await session.putFile(opts.bundleFile, tgz);
    } catch (err) {
      throw new StepError('copy', (err as Error).message);
    }
    await step(
      session,
      'unpack',
      [
        'set -e',
        `rm -rf ${sq(dir + '.new')} ${sq(dir + '.old')}`,
        `mkdir -p ${sq(dir + '.new')}`,
        `tar -xzf ${sq(tgz)} -C ${sq(dir + '.new')} || { rm -rf ${sq(dir + '.new')} ${sq(tgz)}; exit 1; }`,
        `rm -f ${sq(tgz)}`,
        `if [ -d ${sq(dir)} ]; then mv ${sq(dir)} ${sq(dir + '.old')}; fi`,
        `mv ${sq(dir + '.new')} ${sq(dir)}`,
        `rm -rf ${sq(dir + '.old')}`,
      ].join('; '),
    );
    // The bundle runs there: the node's own Node loads it whole (a syntax it lacks fails here, not under systemd).
    await step(session, 'agent check', `node ${sq(dir + '/bin/entropy-agent.js')} --help >/dev/null`);
    try {
      const stateDir = root ? `${root}${AGENT_STATE_DIR}/${host.node}` : undefined;
      await session.writeFile(
        root + AGENT_ENV_FILE,
        agentEnvFile(host.node, {
          natsUrl: opts.natsUrl,
          driver: opts.driver,
          capacity,
          ...creds,
          agentArgs: opts.agentArgs,
          ...(stateDir ? { stateDir } : {}),
        }),
        0o600,
      );
      await session.writeFile(root + AGENT_UNIT_FILE, opts.unitText, 0o644);
    } catch (err) {
      throw new StepError('write', (err as Error).message);
    }
    if (!systemd) {
      const why = root
        ? `staged under ${root}; to run it there`
        : 'no systemd on this host; start it with your init system';
      return { ...extra, ok: true, outcome: 'installed', detail: `${why}: ${startBy}` };
    }
    await step(
      session,
      'systemctl',
      `systemctl daemon-reload && systemctl enable entropy-agent@${host.node} && systemctl restart entropy-agent@${host.node}`,
    );
    const active = (await session.exec(`systemctl is-active entropy-agent@${host.node}`)).stdout.trim();
    return { ...extra, ok: true, outcome: 'started', detail: `entropy-agent@${host.node} ${active || 'unknown'}` };
  } catch (err) {
    const stepName = err instanceof StepError ? err.step : 'install';
    return {
      ...base,
      ok: false,
      nodeVersion,
      hostKey: session?.hostKey,
      hostKeyStatus: session?.hostKeyStatus,
      outcome: `failed: ${stepName}`,
      detail: (err as Error).message,
    };
  } finally {
    session?.close();
  }
}

/** Every host, a few at a time; results in the order of `hosts`. */
export async function installHosts(
  hosts: readonly DeployHost[],
  opts: InstallOptions,
  concurrency = 8,
): Promise<HostResult[]> {
  const results: HostResult[] = new Array(hosts.length);
  let next = 0;
  const worker = async () => {
    while (next < hosts.length) {
      const i = next++;
      results[i] = await installHost(hosts[i], opts);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, hosts.length) }, worker));
  return results;
}
