import { readFile } from 'node:fs/promises';
import {
  AgentErrorCode,
  type CommandTemplate,
  CommandTemplateError,
  DEFAULT_PREFIX,
  EntropyError,
  parseCommandTemplate,
  PREFIX_RE,
  TOKEN_RE,
} from '@entropy/protocol';
import { DEFAULT_STATUS_AFTER_ACTION_MS, DEFAULT_STATUS_INTERVAL_MS } from './agent.ts';
import { DriverConfigError } from './drivers/driver.ts';
import { DRIVER_NAMES, type DriverName, type DriverSettings } from './drivers/factory.ts';
import { DEFAULT_VIRSH_SESSIONS } from './drivers/virsh-session.ts';
import { loadShellConfig } from './drivers/shell-driver.ts';
import { parseFaultRules } from './drivers/sim-faults.ts';
import { type SimVMRecord, simVmsSchema } from './drivers/sim-store.ts';
import { defaultStateDir } from './state/state-dir.ts';

export const DEFAULT_CAPACITY = 'cpu=4,mem=8192';
/** Comma-separated action ids or VM ids the sim driver fails, beside `--sim-fail`. */
export const SIM_FAIL_ENV = 'ENTROPY_SIM_FAIL';

/** The command line as commander hands it over: strings, before validation. */
export interface RawAgentOptions {
  node?: string;
  nats?: string;
  driver?: string;
  prefix?: string;
  capacity?: string;
  statusInterval?: string;
  statusAfterAction?: string;
  speed?: string;
  shellConfig?: string;
  virshUri?: string;
  virshSessions?: string;
  imageDir?: string;
  sharedImages?: boolean;
  configDir?: string;
  hosts?: string;
  simFail?: string;
  simVms?: string;
  simFaults?: string;
  simUsage?: string;
  stateDir?: string;
  logLevel?: string;
  shutdownCommand?: string;
}

export interface AgentSettings {
  /** `--nats` as given: absent, the environment or the credentials file says (nats-auth.ts). */
  readonly nats?: string;
  readonly prefix: string;
  readonly statusIntervalMs: number;
  readonly statusAfterActionMs: number;
  readonly logLevel: string;
  /** Everything the agent keeps across its restarts; the sim driver's VMs too. */
  readonly stateDir: string;
  readonly driver: DriverSettings;
  /** What powers the node off when the controller asks (`{node}` is this node's id); the sim driver simulates it without one. */
  readonly shutdownCommand?: CommandTemplate;
}

/** The placeholders of `--shutdown-command`. */
export const SHUTDOWN_COMMAND_PLACEHOLDERS = ['node'] as const;

function parseShutdownCommand(text: string | undefined): CommandTemplate | undefined {
  if (text === undefined) return undefined;
  try {
    return parseCommandTemplate(text, { option: '--shutdown-command', placeholders: SHUTDOWN_COMMAND_PLACEHOLDERS });
  } catch (err) {
    if (err instanceof CommandTemplateError)
      throw new AgentOptionError(err.option, err.message.slice(err.option.length + 2));
    throw err;
  }
}

/** A bad option: names the option, as the user typed it. */
export class AgentOptionError extends EntropyError {
  override name = 'AgentOptionError';
  constructor(
    readonly option: string,
    message: string,
  ) {
    super(AgentErrorCode.Option, `${option}: ${message}`, { context: { option } });
  }
}

/** `a=1,b=2` -> { a: '1', b: '2' }. */
function pairs(option: string, text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of text
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean)) {
    const i = part.indexOf('=');
    if (i <= 0) throw new AgentOptionError(option, `expected name=value, got ${JSON.stringify(part)}`);
    out[part.slice(0, i)] = part.slice(i + 1);
  }
  return out;
}

export function parseCapacity(text: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(pairs('--capacity', text))) {
    const n = Number(v);
    if (v === '' || !Number.isFinite(n) || n < 0)
      throw new AgentOptionError('--capacity', `${k} must be a non-negative number, got ${JSON.stringify(v)}`);
    out[k] = n;
  }
  return out;
}

function positive(option: string, text: string | undefined, fallback: number, orZero = false): number {
  if (text === undefined) return fallback;
  const n = Number(text);
  if (text.trim() === '' || !Number.isFinite(n) || n < 0 || (n === 0 && !orZero)) {
    throw new AgentOptionError(
      option,
      `must be a ${orZero ? 'non-negative' : 'positive'} number, got ${JSON.stringify(text)}`,
    );
  }
  return n;
}

function count(option: string, text: string | undefined, fallback: number): number {
  const n = positive(option, text, fallback, true);
  if (!Number.isInteger(n)) throw new AgentOptionError(option, `must be a whole number, got ${JSON.stringify(text)}`);
  return n;
}

async function loadSimVms(file: string): Promise<SimVMRecord[]> {
  let json: unknown;
  try {
    json = JSON.parse(await readFile(file, 'utf8'));
  } catch (err) {
    throw new AgentOptionError('--sim-vms', `${file}: ${(err as Error).message}`);
  }
  const r = simVmsSchema.safeParse(json);
  if (!r.success) {
    const issue = r.error.issues[0];
    throw new AgentOptionError(
      '--sim-vms',
      `${file}: $${issue.path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`)).join('')}: ${issue.message}`,
    );
  }
  return r.data;
}

/** A fault file may be written after the agent starts; one that exists must be valid. */
async function checkSimFaults(file: string): Promise<string> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return file;
    throw new AgentOptionError('--sim-faults', `${file}: ${(err as Error).message}`);
  }
  try {
    parseFaultRules(text, file);
  } catch (err) {
    throw new AgentOptionError('--sim-faults', (err as Error).message);
  }
  return file;
}

/** Validates the command line and loads the files it names. */
export async function parseAgentOptions(
  raw: RawAgentOptions,
  env: NodeJS.ProcessEnv = process.env,
): Promise<AgentSettings> {
  if (!raw.node || !TOKEN_RE.test(raw.node))
    throw new AgentOptionError('--node', `must match ${TOKEN_RE.source}, got ${JSON.stringify(raw.node ?? '')}`);
  const driver = raw.driver as DriverName;
  if (!DRIVER_NAMES.includes(driver))
    throw new AgentOptionError(
      '--driver',
      `must be one of ${DRIVER_NAMES.join(', ')}, got ${JSON.stringify(raw.driver ?? '')}`,
    );
  const prefix = raw.prefix ?? DEFAULT_PREFIX;
  if (!PREFIX_RE.test(prefix))
    throw new AgentOptionError('--prefix', `must be dot-separated tokens, got ${JSON.stringify(prefix)}`);
  let shellConfig;
  if (driver === 'shell') {
    if (!raw.shellConfig) throw new AgentOptionError('--shell-config', 'required with --driver shell');
    try {
      shellConfig = await loadShellConfig(raw.shellConfig);
    } catch (err) {
      if (err instanceof DriverConfigError) throw new AgentOptionError('--shell-config', err.message);
      throw err;
    }
  }
  const simFail = [raw.simFail, env[SIM_FAIL_ENV]]
    .flatMap((t) => (t ?? '').split(','))
    .map((t) => t.trim())
    .filter(Boolean);
  if (raw.stateDir !== undefined && raw.stateDir.trim() === '')
    throw new AgentOptionError('--state-dir', 'must not be empty');
  const stateDir = raw.stateDir ?? defaultStateDir(raw.node);
  const shutdownCommand = parseShutdownCommand(raw.shutdownCommand);
  return {
    ...(shutdownCommand ? { shutdownCommand } : {}),
    ...(raw.nats !== undefined ? { nats: raw.nats } : {}),
    prefix,
    statusIntervalMs: positive('--status-interval', raw.statusInterval, DEFAULT_STATUS_INTERVAL_MS),
    statusAfterActionMs: positive('--status-after-action', raw.statusAfterAction, DEFAULT_STATUS_AFTER_ACTION_MS, true),
    logLevel: raw.logLevel ?? 'info',
    stateDir,
    driver: {
      driver,
      node: raw.node,
      capacity: parseCapacity(raw.capacity ?? DEFAULT_CAPACITY),
      speed: positive('--speed', raw.speed, 1),
      imageDir: raw.imageDir,
      ...(raw.sharedImages ? { sharedImages: true } : {}),
      configDir: raw.configDir,
      hosts: raw.hosts ? pairs('--hosts', raw.hosts) : undefined,
      virshUri: raw.virshUri,
      virshSessions: count('--virsh-sessions', raw.virshSessions, DEFAULT_VIRSH_SESSIONS),
      shellConfig,
      simFail,
      simVms: raw.simVms ? await loadSimVms(raw.simVms) : undefined,
      simFaults: raw.simFaults ? await checkSimFaults(raw.simFaults) : undefined,
      ...(raw.simUsage ? { simUsage: raw.simUsage } : {}),
      stateDir,
    },
  };
}
