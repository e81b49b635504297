import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { access, appendFile, chmod, cp, mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { promisify } from 'node:util';
import { isRunning, type RecordedProcess, spawnRecorded, stopRecorded } from './recorded-process.ts';

const exec = promisify(execFile);

export interface Libvirtd {
  /** `qemu:///system` through this daemon's own socket: what `virsh -c` and `entropy-agent --virsh-uri` take. */
  readonly uri: string;
  readonly pid: number;
  readonly process: RecordedProcess;
  /** The daemon's directory: its private /etc/libvirt, /run/libvirt, /var/lib/libvirt, ... */
  readonly dir: string;
  readonly log: string;
  virsh(args: readonly string[], timeoutMs?: number): Promise<string>;
  /** Defines a persistent domain and records its name for teardown. */
  define(xml: string, name: string): Promise<void>;
  /** Destroys and undefines its domains, kills what is left of their QEMU, stops the daemon; removes the directory it created. */
  stop(): Promise<void>;
}

export interface LibvirtdOptions {
  /** The daemon's directory, created if missing and left in place by stop() (its owner removes it). */
  readonly dir?: string;
  /** Without `dir`: prefix of a new directory under the system's temp dir, removed by stop(). */
  readonly prefix?: string;
  readonly startTimeoutMs?: number;
  /**
   * Run as a host: in this network namespace (see netns-hosts.ts), with its own hostname and host UUID,
   * listening on TCP without authentication so that another host's agent can migrate a guest to it.
   * Without it, the daemon gets an empty network namespace of its own.
   */
  readonly host?: { readonly ns: string; readonly hostname: string };
  /** The daemon outlives this process (`entropy lab up`). */
  readonly detached?: boolean;
  /** Called as soon as the daemon is spawned (the lab records it). */
  readonly started?: (p: RecordedProcess) => void | Promise<void>;
  /** The daemon's process name in records and errors (default `libvirtd`). */
  readonly name?: string;
  /**
   * Probe QEMU before returning: a fresh daemon probes it at its first domain start, holding its
   * driver for seconds, during which even `domstats --nowait` waits (and the agent's status with it).
   */
  readonly probeQemu?: boolean;
}

const LIBVIRTD = 'libvirtd --pid-file /run/libvirt/libvirtd.pid';

/** The private directories bind-mounted over the system ones inside the daemon's mount namespace. */
const PRIVATE_DIRS = {
  etc: '/etc/libvirt',
  run: '/run/libvirt',
  lib: '/var/lib/libvirt',
  cache: '/var/cache/libvirt',
  log: '/var/log/libvirt',
} as const;

/** The URI of the daemon whose directory is `dir`, through its unix socket. */
export const libvirtUri = (dir: string) => `qemu:///system?socket=${join(dir, 'run', 'libvirt-sock')}`;

export function virshAt(uri: string) {
  return async (args: readonly string[], timeoutMs = 60_000) =>
    (await exec('virsh', ['-c', uri, ...args], { timeout: timeoutMs, killSignal: 'SIGKILL' })).stdout;
}

/**
 * Starts libvirtd as a plain process (no systemd) in its own mount and network namespaces:
 * - /dev/kvm is hidden behind an empty file mounted read-only: the machine's /dev/kvm cannot run guests,
 *   and while libvirt believes KVM usable it throws its probe of QEMU away and probes again on every
 *   call (3-4 s each, 20 s for a define). QEMU runs as root here, for whom mode 000 is no obstacle: only
 *   the read-only mount makes libvirt's access(W_OK) check fail;
 * - /etc/libvirt is a copy with `namespaces = [ ]`, QEMU as root, no security driver, QEMU's output to
 *   plain files (no virtlogd to manage) and no autostarted network;
 * - /run/libvirt and the state directories are private to this daemon, so daemons do not collide and the
 *   socket is reached from outside at `<dir>/run/libvirt-sock`;
 * - an empty network namespace, so the daemon cannot touch the machine's interfaces; or, with `host`,
 *   a host's namespace and its own UTS namespace.
 */
export async function startLibvirtd(opts: LibvirtdOptions = {}): Promise<Libvirtd> {
  const owned = opts.dir === undefined;
  const dir = opts.dir ?? (await mkdtemp(join(tmpdir(), opts.prefix ?? 'entropy-libvirt-')));
  const defined = new Set<string>();
  const log = join(dir, 'libvirtd.log');
  const uri = libvirtUri(dir);
  const virsh = virshAt(uri);
  let daemon: RecordedProcess | undefined;

  const stop = async () => {
    await stopLibvirtd({ dir, uri, ...(daemon ? { process: daemon } : {}), domains: defined });
    if (owned) await rm(dir, { recursive: true, force: true });
  };

  try {
    await mkdir(dir, { recursive: true });
    await cp('/etc/libvirt', join(dir, 'etc'), { recursive: true });
    await rm(join(dir, 'etc/qemu/networks/autostart'), { recursive: true, force: true });
    await appendFile(
      join(dir, 'etc/qemu.conf'),
      '\nnamespaces = [ ]\nuser = "root"\ngroup = "root"\nsecurity_driver = "none"\nstdio_handler = "file"\nremember_owner = 0\n',
    );
    if (opts.host) {
      // Two daemons with the same host UUID or hostname refuse to migrate to each other ("the same host").
      await appendFile(
        join(dir, 'etc/libvirtd.conf'),
        `\nlisten_tcp = 1\nlisten_tls = 0\nauth_tcp = "none"\nhost_uuid = "${randomUUID()}"\n`,
      );
    }
    for (const d of ['run', 'lib', 'cache', 'log/qemu']) await mkdir(join(dir, d), { recursive: true });
    await writeFile(join(dir, 'nokvm'), '');
    await chmod(join(dir, 'nokvm'), 0o000);
    const mounts = Object.entries(PRIVATE_DIRS).map(([d, target]) => `mount --bind '${join(dir, d)}' ${target}`);
    const script = [
      'set -e',
      `if [ -e /dev/kvm ]; then mount --bind '${join(dir, 'nokvm')}' /dev/kvm; mount -o remount,bind,ro /dev/kvm; fi`,
      ...mounts,
      // Its default pid file, /run/libvirtd.pid, is the machine's: keep it in the private /run/libvirt.
      ...(opts.host ? [`hostname '${opts.host.hostname}'`, `exec ${LIBVIRTD} --listen`] : [`exec ${LIBVIRTD}`]),
    ].join('\n');
    // The target directories must exist before unsharing: create them in the machine's namespace (empty, harmless).
    for (const target of Object.values(PRIVATE_DIRS)) await mkdir(target, { recursive: true });
    const [cmd, ...args] = opts.host
      ? [
          'ip',
          'netns',
          'exec',
          opts.host.ns,
          'unshare',
          '--mount',
          '--uts',
          '--propagation',
          'private',
          'sh',
          '-c',
          script,
        ]
      : ['unshare', '--mount', '--net', '--propagation', 'private', 'sh', '-c', script];
    // `ip netns exec`, unshare and sh all exec the next program: the recorded pid is libvirtd's.
    daemon = spawnRecorded(opts.name ?? 'libvirtd', cmd!, args, {
      log,
      ...(opts.detached ? { detached: true } : {}),
    }).process;
    await opts.started?.(daemon);
    const deadline = Date.now() + (opts.startTimeoutMs ?? 30_000);
    for (;;) {
      const ready = await access(join(dir, 'run', 'libvirt-sock')).then(
        () =>
          virsh(['list', '--all'], 10_000).then(
            () => true,
            () => false,
          ),
        () => false,
      );
      if (ready) break;
      const gone = !isRunning(daemon);
      if (gone || Date.now() > deadline) {
        const tail = (await readFile(log, 'utf8').catch(() => '')).trim().split('\n').slice(-5).join('\n');
        throw new Error(
          `${gone ? 'libvirtd exited' : `libvirtd did not answer within ${opts.startTimeoutMs ?? 30_000} ms`}; log ${log}:\n${tail}`,
        );
      }
      await delay(100);
    }
    if (opts.probeQemu) await virsh(['domcapabilities', '--virttype', 'qemu', '--arch', 'x86_64'], 120_000);
  } catch (err) {
    await stop();
    throw err;
  }

  const started = daemon;
  return {
    uri,
    pid: started.pid,
    process: started,
    dir,
    log,
    virsh,
    async define(xml, name) {
      const file = join(dir, `${name}.xml`);
      await writeFile(file, xml);
      defined.add(name);
      await virsh(['define', file]);
    },
    stop,
  };
}

export interface LibvirtdAt {
  readonly dir: string;
  readonly uri: string;
  readonly process?: RecordedProcess;
  /** The owner's domains: those still defined on the daemon are undefined. */
  readonly domains?: Iterable<string>;
}

/**
 * Stops a daemon started by startLibvirtd, from what was recorded of it: its running domains are
 * destroyed (the daemon is private: every domain on it is its owner's), the owner's defined ones undefined,
 * any QEMU it left behind (by the pid files in its own run directory, checked against the process's
 * command line) killed, then the daemon itself, by its recorded identity.
 */
export async function stopLibvirtd(at: LibvirtdAt): Promise<void> {
  const virsh = virshAt(at.uri);
  if (at.process && isRunning(at.process)) {
    const names = async (args: string[]) =>
      (await virsh(['list', '--name', ...args], 30_000).catch(() => ''))
        .split('\n')
        .map((l) => l.trim())
        .filter(Boolean);
    const running = await names([]);
    await Promise.all(running.map((name) => virsh(['destroy', name], 30_000).catch(() => {})));
    // Persistent ones (a test's define); transient domains are gone once destroyed.
    const defined = new Set(await names(['--all']));
    for (const name of at.domains ?? []) if (defined.has(name)) await virsh(['undefine', name], 30_000).catch(() => {});
  }
  // QEMU outlives libvirtd: kill any guest whose pid file this daemon left.
  const qemuRun = join(at.dir, 'run', 'qemu');
  for (const f of (await readdir(qemuRun).catch(() => [] as string[])).filter((n) => n.endsWith('.pid'))) {
    const pid = Number((await readFile(join(qemuRun, f), 'utf8').catch(() => '')).trim());
    const cmdline =
      Number.isInteger(pid) && pid > 1 ? await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '') : '';
    // Only the QEMU of that very domain: a pid reused since would have another command line.
    if (cmdline.includes('qemu-system') && cmdline.includes(`guest=${f.slice(0, -'.pid'.length)}`)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }
  if (at.process) await stopRecorded(at.process, 15_000);
}
