import { readFile } from 'node:fs/promises';
import {
  ACTION_TYPES,
  type ActionRequest,
  type ActionType,
  commandArgv,
  type CommandTemplate,
  CommandTemplateError,
  parseCommandTemplate,
  STATE_AFTER,
  WireVMState,
} from '@entropy/protocol';
import * as z from 'zod';
import { DriverConfigError, type DriverVM, type HypervisorDriver } from './driver.ts';
import { type CommandRunner, execRunner } from './exec.ts';
import { DEFAULT_IMAGE_DIR, imageStore } from './image-store.ts';

/** Placeholders a command template may use; each value becomes one argument (or part of one), never shell code. */
export const PLACEHOLDERS = [
  'vm',
  'vjob',
  'from',
  'to',
  'fromHost',
  'toHost',
  'cpu',
  'mem',
  'image',
  'node',
  'action',
  'plan',
] as const;
type Placeholder = (typeof PLACEHOLDERS)[number];

/** The largest shell config file read. */
export const MAX_SHELL_CONFIG_BYTES = 1024 * 1024;

/**
 * A command template: words split as a shell would (quotes, backslashes) or a JSON array of words,
 * run without a shell. A placeholder inside quotes, or inside a JSON word with blanks, is refused:
 * that word is shell code (`sh -c 'echo {vjob}'`), and the value would be read by the shell. A
 * template that needs a shell passes values as its arguments: `sh -c 'virsh restore "$1" && rm "$1"' sh {image}`.
 */
const template = (placeholders: readonly string[]) =>
  z
    .union([z.string(), z.array(z.string()).min(1)], {
      error: 'must be a command template (a string, or an array of strings)',
    })
    .transform((t, ctx): CommandTemplate => {
      const text = typeof t === 'string' ? t : JSON.stringify(t);
      try {
        return parseCommandTemplate(text, { option: 'template', placeholders, unquotedPlaceholders: true });
      } catch (err) {
        if (!(err instanceof CommandTemplateError)) throw err;
        ctx.addIssue({ code: 'custom', message: err.message.slice('template: '.length) });
        return z.NEVER;
      }
    });
const actionTemplate = template(PLACEHOLDERS);

export const shellConfigSchema = z.strictObject({
  imageDir: z.string().min(1).optional(),
  hosts: z.record(z.string(), z.string()).optional(),
  /** A command template for each action type; all seven are required. */
  commands: z.strictObject(
    Object.fromEntries(ACTION_TYPES.map((t) => [t, actionTemplate])) as Record<ActionType, typeof actionTemplate>,
  ),
  /** Optional command printing the node's VMs as JSON: `[{ "id": "v1", "state": "running", "cpu"?: 0.5, "mem"?: 512 }]`. */
  list: template([]).optional(),
});
export type ShellConfig = z.output<typeof shellConfigSchema>;

const listedSchema = z.array(
  z.object({
    id: z.string().min(1),
    state: z.enum(Object.values(WireVMState) as [WireVMState, ...WireVMState[]]),
    cpu: z.number().optional(),
    mem: z.number().optional(),
  }),
);

function pathOf(segments: readonly PropertyKey[]): string {
  return segments.reduce<string>((out, s) => (typeof s === 'number' ? `${out}[${s}]` : `${out}.${String(s)}`), '$');
}

export function parseShellConfig(value: unknown, file = 'shell config'): ShellConfig {
  const r = shellConfigSchema.safeParse(value);
  if (r.success) return r.data;
  const issue = r.error.issues[0];
  throw new DriverConfigError(`${file}: ${pathOf(issue.path)}`, issue.message);
}

export async function loadShellConfig(file: string): Promise<ShellConfig> {
  let text: string;
  try {
    const bytes = await readFile(file);
    if (bytes.length > MAX_SHELL_CONFIG_BYTES) throw new Error(`larger than ${MAX_SHELL_CONFIG_BYTES} bytes`);
    text = bytes.toString('utf8');
  } catch (err) {
    throw new DriverConfigError(file, `cannot read: ${(err as Error).message}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new DriverConfigError(file, `not JSON: ${(err as Error).message}`);
  }
  return parseShellConfig(json, file);
}

/** The argv of a template with its placeholders filled: each value stays inside the word it was put in. */
export function renderCommand(tpl: CommandTemplate, values: Readonly<Record<Placeholder, string>>): string[] {
  return commandArgv(tpl, values);
}

export interface ShellDriverOptions {
  readonly node: string;
  readonly config: ShellConfig;
  readonly runner?: CommandRunner;
}

/**
 * Any other hypervisor: one command template per action, run without a shell, each placeholder one
 * argument. Without a `list` command, the driver reports the VMs its own successful actions left on the node.
 */
export function shellDriver(opts: ShellDriverOptions): HypervisorDriver {
  const { config, node } = opts;
  const run = opts.runner ?? execRunner();
  const exec = (argv: readonly string[], timeoutMs: number) => run(argv[0]!, argv.slice(1), { timeoutMs });
  const images = imageStore(config.imageDir ?? DEFAULT_IMAGE_DIR);
  const known = new Map<string, DriverVM>();

  const act = (type: ActionType) => async (req: ActionRequest) => {
    const host = (n?: string) => (n === undefined ? '' : (config.hosts?.[n] ?? n));
    const argv = renderCommand(config.commands[type], {
      vm: req.vm,
      vjob: req.vjob,
      from: req.from ?? '',
      to: req.to ?? '',
      fromHost: host(req.from),
      toHost: host(req.to),
      cpu: String(req.demand.cpu),
      mem: String(req.demand.mem),
      image: type === 'suspend' ? await images.pathToSave(req.vm) : images.pathOf(req.vm),
      node,
      action: req.actionId,
      plan: req.planId,
    });
    await exec(argv, req.timeoutMs);
    const after = STATE_AFTER[type];
    if (after === 'terminated' || type === 'migrate') known.delete(req.vm);
    else known.set(req.vm, { id: req.vm, state: after });
  };

  return {
    name: 'shell',
    async list() {
      if (!config.list) return [...known.values()];
      const { stdout } = await exec(config.list.argv, 30_000);
      let json: unknown;
      try {
        json = JSON.parse(stdout);
      } catch {
        throw new DriverConfigError('list', `output is not JSON: ${stdout.slice(0, 80)}`);
      }
      const r = listedSchema.safeParse(json);
      if (!r.success)
        throw new DriverConfigError(`list output ${pathOf(r.error.issues[0].path)}`, r.error.issues[0].message);
      return r.data;
    },
    run: act('run'),
    stop: act('stop'),
    suspend: act('suspend'),
    resume: act('resume'),
    async migrate(req) {
      // The template migrates; what the driver knows of the VM is the state its actions left it in.
      const paused = known.get(req.vm)?.state === 'paused';
      await act('migrate')(req);
      return { state: paused ? 'paused' : 'running' };
    },
    pause: act('pause'),
    unpause: act('unpause'),
  };
}
