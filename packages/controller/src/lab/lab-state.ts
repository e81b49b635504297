import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as z from 'zod';
import { LabError, LabErrorCode } from './lab-error.ts';

/** The state file's name in the lab directory. */
export const LAB_STATE_FILE = 'lab.json';

export const LabRole = {
  Libvirtd: 'libvirtd',
  Agent: 'agent',
  Controller: 'controller',
  NatsServer: 'nats-server',
  Relay: 'relay',
} as const;
export type LabRole = (typeof LabRole)[keyof typeof LabRole];

const labProcessSchema = z.object({
  name: z.string(),
  role: z.enum(Object.values(LabRole) as [LabRole, ...LabRole[]]),
  pid: z.number().int().positive(),
  startTime: z.string(),
  log: z.string().optional(),
  /** The lab node it serves (libvirtd, agent). */
  node: z.string().optional(),
});
export type LabProcess = z.infer<typeof labProcessSchema>;

const labHostSchema = z.object({
  node: z.string(),
  ns: z.string(),
  addr: z.string(),
  /** The libvirtd's private directory; its URI goes through the socket there. */
  libvirtDir: z.string(),
  uri: z.string(),
  /**
   * The host's agent as lab up started it (`ip netns exec NS nice ... node entropy-agent ...`):
   * `entropy lab host-start` starts it again with the same arguments.
   */
  agentCommand: z.array(z.string()).optional(),
  /** Set by `entropy lab host-stop` (its libvirtd and agent stopped: the host is powered off), cleared by host-start. */
  poweredOffAt: z.number().optional(),
});
export type LabHost = z.infer<typeof labHostSchema>;

const labGuestSchema = z.object({
  name: z.string(),
  memMiB: z.number().int().positive(),
  xml: z.string(),
  serial: z.string(),
});
export type LabGuest = z.infer<typeof labGuestSchema>;

/**
 * Everything a lab created, recorded as it is created: each namespace before `ip netns add`, each
 * process as soon as it is spawned, each path before it is made. `lab down` removes exactly these,
 * whether `lab up` finished or died half way.
 */
export const labStateSchema = z.object({
  version: z.literal(1),
  /** Prefix of the lab's namespace and host names: unique per lab. */
  prefix: z.string().regex(/^[a-z][a-z0-9]{1,11}$/),
  dir: z.string(),
  /** lab up made the directory itself: lab down removes it. */
  createdDir: z.boolean(),
  /** `stopping` from the moment lab down starts: host-start records nothing more then. */
  phase: z.enum(['starting', 'up', 'stopping']),
  startedAt: z.number(),
  upAt: z.number().optional(),
  namespaces: z.array(z.string()),
  processes: z.array(labProcessSchema),
  hosts: z.array(labHostSchema),
  guests: z.array(labGuestSchema),
  /** Entries made under `dir`, removed by lab down. */
  paths: z.array(z.string()),
  /** Where the user reaches the lab's nats-server, and the operator's credentials file its commands need. */
  nats: z.object({ url: z.string(), hostUrl: z.string(), creds: z.string().optional() }).optional(),
  image: z.object({ kernel: z.string(), initrd: z.string(), sha256: z.record(z.string(), z.string()) }).optional(),
  capacity: z.record(z.string(), z.number()).optional(),
});
export type LabState = z.infer<typeof labStateSchema>;

/** The lab's NATS as the operator reaches it: `--nats` and `--creds` of every command. */
export function labNats(state: LabState): { readonly nats: string; readonly creds?: string } {
  if (!state.nats) throw new LabError(LabErrorCode.State, `the lab in ${state.dir} recorded no NATS server`);
  return state.nats.creds ? { nats: state.nats.url, creds: state.nats.creds } : { nats: state.nats.url };
}

/** The lab's state, read from its directory; undefined when no lab is recorded there. */
export function readLabState(dir: string): LabState | undefined {
  const file = join(dir, LAB_STATE_FILE);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'ENOTDIR')
      return undefined;
    throw new LabError(LabErrorCode.State, `${file}: cannot read (${(err as Error).message})`, { cause: err });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new LabError(
      LabErrorCode.State,
      `${file}: not JSON (${(err as Error).message}); remove what it names by hand`,
      { cause: err },
    );
  }
  const r = labStateSchema.safeParse(json);
  if (!r.success) {
    const issue = r.error.issues[0]!;
    throw new LabError(LabErrorCode.State, `${file}: $.${issue.path.join('.')}: ${issue.message}`);
  }
  return r.data;
}

/** The state file of a lab being made: each change is written at once (a rename, so a crash leaves a whole file). */
export class LabStateFile {
  private constructor(
    readonly file: string,
    private state: LabState,
  ) {}

  static create(state: LabState): LabStateFile {
    const f = new LabStateFile(join(state.dir, LAB_STATE_FILE), state);
    f.write();
    return f;
  }

  get current(): LabState {
    return this.state;
  }

  update(change: (s: LabState) => LabState): void {
    this.state = change(this.state);
    this.write();
  }

  addNamespace(ns: string): void {
    this.update((s) => ({ ...s, namespaces: [...s.namespaces, ns] }));
  }

  addProcess(p: LabProcess): void {
    this.update((s) => ({ ...s, processes: [...s.processes, p] }));
  }

  addPath(path: string): void {
    this.update((s) => ({ ...s, paths: [...s.paths, path] }));
  }

  private write(): void {
    writeLabState(this.state);
  }
}

/** Writes the state file whole (a rename, so that a crash or a reader meanwhile sees a whole file). */
export function writeLabState(state: LabState): void {
  const file = join(state.dir, LAB_STATE_FILE);
  const tmp = `${file}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(state, null, 2)}\n`);
  renameSync(tmp, file);
}
