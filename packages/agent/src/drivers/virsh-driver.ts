import { join } from 'node:path';
import { ActionErrorCode, type ActionRequest, type WireVMState } from '@entropy/protocol';
import { CpuSampler } from './cpu-sampler.ts';
import { DriverError, type DriverVM, type HypervisorDriver } from './driver.ts';
import { type CommandRunner, execRunner } from './exec.ts';
import { virshSessions } from './virsh-session.ts';
import { DEFAULT_IMAGE_DIR, imageStore } from './image-store.ts';

export interface VirshDriverOptions {
  readonly virsh?: string;
  /** Connection URI (`virsh -c URI`), e.g. `qemu:///system`; virsh's default when absent. */
  readonly uri?: string;
  /** When set, run is `virsh create <configDir>/<vm>.xml` (transient domain); else `virsh start <vm>` (defined domain). */
  readonly configDir?: string;
  readonly imageDir?: string;
  /** This node's id when the image directory is shared by every node (image-store.ts). */
  readonly sharedImagesBy?: string;
  /** Node id -> address for migrations (default: the node id itself). */
  readonly hosts?: Readonly<Record<string, string>>;
  /** Destination libvirt URI and migration data URI; `{host}` is the destination's address. */
  readonly migrateDestUri?: string;
  readonly migrateDataUri?: string;
  readonly runner?: CommandRunner;
  /**
   * Run commands through this many warm `virsh` sessions (virsh-session.ts) instead of one virsh
   * process per command; ignored when a runner is given. 0 or absent: one process per command.
   */
  readonly sessions?: number;
  /** How long a status waits for a fresh domstats before it takes the previous one (default 250 ms). */
  readonly usageWaitMs?: number;
  readonly now?: () => number;
}

const DEFAULT_USAGE_WAIT_MS = 250;

/** Resolves when `p` settles or after `ms`, whichever comes first. */
function settledWithin(p: Promise<unknown>, ms: number): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    void p.finally(() => {
      clearTimeout(timer);
      resolve();
    });
  });
}

/** Domain states as `virsh list --all` prints them; shut-off domains are not on the node. */
const STATES: Readonly<Record<string, WireVMState>> = {
  running: 'running',
  idle: 'running',
  'in shutdown': 'running',
  paused: 'paused',
  pmsuspended: 'paused',
  crashed: 'crashed',
};

/** Parses `virsh list --all`: a header, a rule, then ` Id   Name   State` rows (Id `-` when shut off). */
export function parseVirshList(out: string): { id: string; state: string }[] {
  return out
    .split('\n')
    .map((l) => /^\s*(\S+)\s+(\S+)\s+(\S.*?)\s*$/.exec(l))
    .filter((m): m is RegExpExecArray => m !== null && m[1] !== 'Id' && !m[1]!.startsWith('--'))
    .map((m) => ({ id: m[2]!, state: m[3]! }));
}

/** Parses `virsh domstats --cpu-total --balloon --nowait`: `Domain: 'name'` blocks of `key=value` lines. */
export function parseDomstats(out: string): { id: string; stats: Record<string, string> }[] {
  const doms: { id: string; stats: Record<string, string> }[] = [];
  for (const raw of out.split('\n')) {
    const line = raw.trim();
    const head = /^Domain: '(.*)'$/.exec(line);
    if (head) doms.push({ id: head[1], stats: {} });
    else if (doms.length > 0 && line.includes('=')) {
      const i = line.indexOf('=');
      doms[doms.length - 1].stats[line.slice(0, i)] = line.slice(i + 1);
    }
  }
  return doms;
}

export function virshDriver(opts: VirshDriverOptions = {}): HypervisorDriver {
  const virsh = opts.virsh ?? 'virsh';
  const conn = opts.uri ? ['-c', opts.uri] : [];
  const sessions =
    !opts.runner && opts.sessions
      ? virshSessions({ virsh, ...(opts.uri ? { uri: opts.uri } : {}), warm: opts.sessions })
      : undefined;
  const exec = opts.runner ?? execRunner();
  // A session takes the arguments after `-c URI`: it holds the connection.
  const run: CommandRunner = sessions ? (_file, args, call) => sessions.run(args.slice(conn.length), call) : exec;
  const images = imageStore(
    opts.imageDir ?? DEFAULT_IMAGE_DIR,
    opts.sharedImagesBy ? { sharedBy: opts.sharedImagesBy } : {},
  );
  const cpu = new CpuSampler(opts.now);
  const destUri = opts.migrateDestUri ?? 'qemu+tcp://{host}/system';
  const dataUri = opts.migrateDataUri ?? 'tcp://{host}';
  const call = (req: ActionRequest, ...args: string[]) => run(virsh, [...conn, ...args], { timeoutMs: req.timeoutMs });

  /**
   * Each domain's measured use, refreshed in the background, one domstats at a time: domstats waits
   * for domains busy starting (seconds on a loaded host, even with --nowait) and must not hold the
   * node's status back; `virsh list` gives the states at once.
   */
  let usage = new Map<string, { cpu?: number; mem?: number }>();
  let sampling: Promise<void> | undefined;
  function sampleUsage(): Promise<void> {
    sampling ??= run(virsh, [...conn, 'domstats', '--cpu-total', '--balloon', '--nowait'], { timeoutMs: 30_000 })
      .then(({ stdout }) => {
        const next = new Map<string, { cpu?: number; mem?: number }>();
        for (const { id, stats } of parseDomstats(stdout)) {
          const cpuNs = Number(stats['cpu.time']);
          const memKiB = Number(stats['balloon.current']);
          const used = Number.isFinite(cpuNs) ? cpu.sample(id, cpuNs / 1e9) : undefined;
          next.set(id, {
            ...(used !== undefined ? { cpu: used } : {}),
            ...(Number.isFinite(memKiB) ? { mem: Math.round(memKiB / 1024) } : {}),
          });
        }
        cpu.keepOnly(next.keys());
        usage = next;
      })
      .catch(() => {})
      .finally(() => {
        sampling = undefined;
      });
    return sampling;
  }

  async function live(): Promise<DriverVM[]> {
    const { stdout } = await run(virsh, [...conn, 'list', '--all'], { timeoutMs: 30_000 });
    // A fresh sample when domstats answers at once, the previous one when it waits.
    await settledWithin(sampleUsage(), opts.usageWaitMs ?? DEFAULT_USAGE_WAIT_MS);
    const vms: DriverVM[] = [];
    for (const { id, state } of parseVirshList(stdout)) {
      if (state === 'shut off') continue;
      const u = usage.get(id);
      vms.push({
        id,
        state: STATES[state] ?? 'unknown',
        ...(u?.cpu !== undefined ? { cpu: u.cpu } : {}),
        ...(u?.mem !== undefined ? { mem: u.mem } : {}),
      });
    }
    return vms;
  }

  return {
    name: 'virsh',
    close: async () => sessions?.close(),
    async list() {
      const vms = await live();
      const seen = new Set(vms.map((v) => v.id));
      for (const id of await images.list()) if (!seen.has(id)) vms.push({ id, state: 'sleeping' });
      return vms;
    },
    run: async (req) =>
      void (await (opts.configDir
        ? call(req, 'create', join(opts.configDir, `${req.vm}.xml`))
        : call(req, 'start', req.vm))),
    pause: async (req) => void (await call(req, 'suspend', req.vm)),
    unpause: async (req) => void (await call(req, 'resume', req.vm)),
    suspend: async (req) => void (await call(req, 'save', req.vm, await images.pathToSave(req.vm))),
    async resume(req) {
      if (!(await images.has(req.vm, req.from))) {
        throw new DriverError(
          ActionErrorCode.InvalidState,
          `no image ${images.pathOf(req.vm, req.from)} for ${req.vm}${req.from !== req.to ? ` (image of ${req.from}: the image directory must be shared)` : ''}`,
        );
      }
      await call(req, 'restore', images.pathOf(req.vm, req.from), '--paused');
      await images.remove(req.vm, req.from);
    },
    async migrate(req) {
      // libvirt keeps a paused domain paused on the destination: the state before is the state after.
      const paused = (await live()).find((v) => v.id === req.vm)?.state === 'paused';
      const host = opts.hosts?.[req.to!] ?? req.to!;
      await call(
        req,
        'migrate',
        '--live',
        req.vm,
        destUri.replaceAll('{host}', host),
        dataUri.replaceAll('{host}', host),
      );
      return { state: paused ? 'paused' : 'running' };
    },
    async stop(req) {
      if ((await live()).some((v) => v.id === req.vm)) return void (await call(req, 'destroy', req.vm));
      if (!(await images.has(req.vm)))
        throw new DriverError(
          ActionErrorCode.InvalidState,
          `${req.vm} is neither a running domain nor a saved image here`,
        );
      await images.remove(req.vm);
    },
  };
}
