import { join } from 'node:path';
import { ActionErrorCode, type ActionRequest, type WireVMState } from '@entropy/protocol';
import { CpuSampler } from './cpu-sampler.ts';
import { DriverError, type DriverVM, type HypervisorDriver } from './driver.ts';
import { type CommandRunner, execRunner } from './exec.ts';
import { DEFAULT_IMAGE_DIR, imageStore } from './image-store.ts';

export interface XlDriverOptions {
  /** The xl executable (default `xl`, looked up on PATH). */
  readonly xl?: string;
  /** Domain configs, one per VM: `<configDir>/<vm>.cfg`, whose `name` is the VM id. */
  readonly configDir?: string;
  readonly imageDir?: string;
  /** This node's id when the image directory is shared by every node (image-store.ts). */
  readonly sharedImagesBy?: string;
  /** Node id -> address for `xl migrate` (default: the node id itself). */
  readonly hosts?: Readonly<Record<string, string>>;
  readonly runner?: CommandRunner;
  readonly now?: () => number;
}

export const DEFAULT_XL_CONFIG_DIR = '/etc/entropy/xl';

/** `xl list` state flags: r running, b blocked, p paused, s shutdown, c crashed, d dying. */
function stateOfFlags(flags: string): WireVMState {
  if (flags.includes('c')) return 'crashed';
  if (flags.includes('s') || flags.includes('d')) return 'terminated';
  if (flags.includes('p')) return 'paused';
  return 'running';
}

/** Parses `xl list`: `Name ID Mem VCPUs State Time(s)`, read from the right since names may hold spaces. */
export function parseXlList(out: string): { id: string; memMiB: number; flags: string; cpuSeconds: number }[] {
  const rows = [];
  for (const line of out.split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 6) continue;
    const [mem, , flags, time] = f.slice(-4);
    const name = f.slice(0, -5).join(' ');
    if (name === 'Domain-0') continue;
    rows.push({ id: name, memMiB: Number(mem), flags, cpuSeconds: Number(time) });
  }
  return rows;
}

export function xlDriver(opts: XlDriverOptions = {}): HypervisorDriver {
  const xl = opts.xl ?? 'xl';
  const run = opts.runner ?? execRunner();
  const images = imageStore(
    opts.imageDir ?? DEFAULT_IMAGE_DIR,
    opts.sharedImagesBy ? { sharedBy: opts.sharedImagesBy } : {},
  );
  const configDir = opts.configDir ?? DEFAULT_XL_CONFIG_DIR;
  const cpu = new CpuSampler(opts.now);
  const call = (req: ActionRequest, ...args: string[]) => run(xl, args, { timeoutMs: req.timeoutMs });

  async function live(): Promise<DriverVM[]> {
    const { stdout } = await run(xl, ['list'], { timeoutMs: 30_000 });
    const rows = parseXlList(stdout);
    cpu.keepOnly(rows.map((r) => r.id));
    return rows.map((r) => ({
      id: r.id,
      state: stateOfFlags(r.flags),
      mem: r.memMiB,
      cpu: cpu.sample(r.id, r.cpuSeconds),
    }));
  }

  return {
    name: 'xl',
    async list() {
      const vms = await live();
      const seen = new Set(vms.map((v) => v.id));
      for (const id of await images.list()) if (!seen.has(id)) vms.push({ id, state: 'sleeping' });
      return vms;
    },
    run: async (req) => void (await call(req, 'create', join(configDir, `${req.vm}.cfg`))),
    pause: async (req) => void (await call(req, 'pause', req.vm)),
    unpause: async (req) => void (await call(req, 'unpause', req.vm)),
    // Without -c or -p, xl save destroys the domain once its memory is in the image: that frees the node.
    suspend: async (req) => void (await call(req, 'save', req.vm, await images.pathToSave(req.vm))),
    async resume(req) {
      if (!(await images.has(req.vm, req.from))) {
        throw new DriverError(
          ActionErrorCode.InvalidState,
          `no image ${images.pathOf(req.vm, req.from)} for ${req.vm}${req.from !== req.to ? ` (image of ${req.from}: the image directory must be shared)` : ''}`,
        );
      }
      await call(req, 'restore', '-p', images.pathOf(req.vm, req.from));
      await images.remove(req.vm, req.from);
    },
    async migrate(req) {
      // xl unpauses a migrated domain unless given -p: a paused VM stays paused, as with virsh.
      const paused = (await live()).find((v) => v.id === req.vm)?.state === 'paused';
      await call(req, 'migrate', ...(paused ? ['-p'] : []), req.vm, opts.hosts?.[req.to!] ?? req.to!);
      return { state: paused ? 'paused' : 'running' };
    },
    async stop(req) {
      const isLive = (await live()).some((v) => v.id === req.vm);
      if (!isLive) {
        if (!(await images.has(req.vm)))
          throw new DriverError(ActionErrorCode.InvalidState, `${req.vm} is neither a domain nor a saved image here`);
        return images.remove(req.vm);
      }
      try {
        await run(xl, ['shutdown', '-w', req.vm], { timeoutMs: Math.max(1, Math.floor(req.timeoutMs / 2)) });
      } catch {
        await call(req, 'destroy', req.vm);
      }
    },
  };
}
