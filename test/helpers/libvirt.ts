import { execFile, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { closeSync, openSync } from 'node:fs';
import { access, appendFile, chmod, cp, mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { promisify } from 'node:util';

const exec = promisify(execFile);
const REPO = new URL('../..', import.meta.url).pathname;
const GUEST_SCRIPT = join(REPO, 'scripts/libvirt-guest.sh');

/** What the guest's /init prints once, on boot; then `entropy-tick N` every second. */
export const GUEST_MARKER = 'ENTROPY-GUEST-UP';

export interface GuestImage {
  readonly kernel: string;
  readonly initrd: string;
}

/**
 * Why a real libvirtd cannot run here, or undefined when it can. libvirtd needs root (private mounts,
 * QEMU, cgroups) and the Debian packages scripts/setup.sh installs.
 */
export async function libvirtUnavailableReason(): Promise<string | undefined> {
  if (process.getuid?.() !== 0) return 'not root: libvirtd needs root for its private mounts and QEMU';
  for (const bin of ['libvirtd', 'virsh', 'qemu-system-x86_64', 'unshare', 'cpio', 'dpkg-deb', 'apt-get']) {
    try {
      await exec('sh', ['-c', `command -v ${bin}`]);
    } catch {
      return `${bin} not found: run \`bash scripts/setup.sh --test\` as root (it installs libvirt-daemon-system, libvirt-clients, qemu-system-x86, qemu-utils, cpio, busybox-static)`;
    }
  }
  return undefined;
}

/** Builds the tiny guest once (scripts/libvirt-guest.sh caches it under .cache/libvirt-guest). */
export async function guestImage(): Promise<GuestImage> {
  const { stdout } = await exec('bash', [GUEST_SCRIPT], { timeout: 600_000 });
  const dir = stdout.trim().split('\n').at(-1)!;
  return { kernel: join(dir, 'vmlinuz'), initrd: join(dir, 'initrd.gz') };
}

export interface GuestOptions {
  readonly name: string;
  readonly image: GuestImage;
  /** The serial console's file; appended to, so it survives save/restore and tells the whole story. */
  readonly serial: string;
  readonly memMiB?: number;
}

/** A TCG guest with no disk and no NIC: kernel + initramfs, serial console to a file. */
export function guestXml(g: GuestOptions): string {
  return `<domain type='qemu'>
  <name>${g.name}</name>
  <memory unit='MiB'>${g.memMiB ?? 128}</memory>
  <vcpu>1</vcpu>
  <os>
    <type arch='x86_64' machine='pc'>hvm</type>
    <kernel>${g.image.kernel}</kernel>
    <initrd>${g.image.initrd}</initrd>
    <cmdline>console=ttyS0 panic=-1 quiet</cmdline>
  </os>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>restart</on_reboot>
  <on_crash>destroy</on_crash>
  <devices>
    <serial type='file'>
      <source path='${g.serial}' append='on'/>
      <target port='0'/>
    </serial>
    <memballoon model='none'/>
  </devices>
</domain>
`;
}

/** The guest's console: how many times it booted and its last tick. */
export async function readSerial(file: string): Promise<{ boots: number; lastTick: number | undefined; text: string }> {
  const text = await readFile(file, 'utf8').catch(() => '');
  const boots = text.split('\n').filter((l) => l.trim() === GUEST_MARKER).length;
  const ticks = [...text.matchAll(/^entropy-tick (\d+)\s*$/gm)].map((m) => Number(m[1]));
  return { boots, lastTick: ticks.at(-1), text };
}

export interface Libvirtd {
  /** `qemu:///system` through this daemon's own socket: what `virsh -c` and `entropy-agent --virsh-uri` take. */
  readonly uri: string;
  readonly pid: number;
  /** The per-run directory: the daemon's private /etc/libvirt, /run/libvirt, /var/lib/libvirt, ... and test files. */
  readonly dir: string;
  readonly log: string;
  virsh(args: readonly string[], timeoutMs?: number): Promise<string>;
  /** Defines a persistent domain and records its name for teardown. */
  define(xml: string, name: string): Promise<void>;
  /** Destroys and undefines every recorded domain, kills what is left of its QEMU, stops the daemon, removes the directory. */
  stop(): Promise<void>;
}

export interface LibvirtdOptions {
  /** Prefix of the per-run directory under the system's temp dir. */
  readonly prefix?: string;
  readonly startTimeoutMs?: number;
  /**
   * Run as a test host: in this network namespace (see libvirt-hosts.ts), with its own hostname and host UUID,
   * listening on TCP without authentication so that another host's agent can migrate a guest to it.
   * Without it, the daemon gets an empty network namespace of its own.
   */
  readonly host?: { readonly ns: string; readonly hostname: string };
}

const LIBVIRTD = 'libvirtd --pid-file /run/libvirt/libvirtd.pid';

/** The private directories bind-mounted over the system ones inside the daemon's mount namespace. */
const PRIVATE_DIRS = { etc: '/etc/libvirt', run: '/run/libvirt', lib: '/var/lib/libvirt', cache: '/var/cache/libvirt', log: '/var/log/libvirt' } as const;

/**
 * Starts libvirtd as a plain process (no systemd) in its own mount and network namespaces:
 * - /dev/kvm is hidden behind an empty file mounted read-only: the machine's /dev/kvm cannot run guests,
 *   and while libvirt believes KVM usable it throws its probe of QEMU away and probes again on every
 *   call (3-4 s each, 20 s for a define). QEMU runs as root here, for whom mode 000 is no obstacle: only
 *   the read-only mount makes libvirt's access(W_OK) check fail;
 * - /etc/libvirt is a copy with `namespaces = [ ]`, QEMU as root, no security driver, QEMU's output to
 *   plain files (no virtlogd to manage) and no autostarted network;
 * - /run/libvirt and the state directories are private to this run, so runs do not collide and the
 *   socket is reached from outside at `<dir>/run/libvirt-sock`;
 * - an empty network namespace, so the daemon cannot touch the machine's interfaces; or, with `host`,
 *   a test host's namespace and its own UTS namespace.
 */
export async function startLibvirtd(opts: LibvirtdOptions = {}): Promise<Libvirtd> {
  const dir = await mkdtemp(join(tmpdir(), opts.prefix ?? 'entropy-libvirt-'));
  const defined = new Set<string>();
  const log = join(dir, 'libvirtd.log');
  let child: ReturnType<typeof spawn> | undefined;
  const uri = `qemu:///system?socket=${join(dir, 'run', 'libvirt-sock')}`;
  const virsh = async (args: readonly string[], timeoutMs = 60_000) =>
    (await exec('virsh', ['-c', uri, ...args], { timeout: timeoutMs, killSignal: 'SIGKILL' })).stdout;

  const stop = async () => {
    if (child && child.exitCode === null && child.signalCode === null) {
      // The daemon is this run's own: every domain on it is the test's (a migrated-in one is transient, not defined here).
      const running = (await virsh(['list', '--name'], 30_000).catch(() => '')).split('\n').map((l) => l.trim()).filter(Boolean);
      for (const name of new Set([...running, ...defined])) {
        await virsh(['destroy', name], 30_000).catch(() => {});
        await virsh(['undefine', name], 30_000).catch(() => {});
      }
    }
    // QEMU outlives libvirtd: kill any guest whose pid file this run's daemon left.
    const qemuRun = join(dir, 'run', 'qemu');
    for (const f of (await readdir(qemuRun).catch(() => [] as string[])).filter((n) => n.endsWith('.pid'))) {
      const pid = Number((await readFile(join(qemuRun, f), 'utf8').catch(() => '')).trim());
      if (Number.isInteger(pid) && pid > 1) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
    }
    if (child && child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child!.once('exit', resolve));
      child.kill('SIGTERM');
      if (!(await Promise.race([exited.then(() => true), delay(15_000).then(() => false)]))) {
        child.kill('SIGKILL');
        await exited;
      }
    }
    await rm(dir, { recursive: true, force: true });
  };

  try {
    await cp('/etc/libvirt', join(dir, 'etc'), { recursive: true });
    await rm(join(dir, 'etc/qemu/networks/autostart'), { recursive: true, force: true });
    await appendFile(
      join(dir, 'etc/qemu.conf'),
      '\nnamespaces = [ ]\nuser = "root"\ngroup = "root"\nsecurity_driver = "none"\nstdio_handler = "file"\nremember_owner = 0\n',
    );
    if (opts.host) {
      // Two daemons with the same host UUID or hostname refuse to migrate to each other ("the same host").
      await appendFile(join(dir, 'etc/libvirtd.conf'), `\nlisten_tcp = 1\nlisten_tls = 0\nauth_tcp = "none"\nhost_uuid = "${randomUUID()}"\n`);
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
    const out = openSync(log, 'a');
    const [cmd, ...args] = opts.host
      ? ['ip', 'netns', 'exec', opts.host.ns, 'unshare', '--mount', '--uts', '--propagation', 'private', 'sh', '-c', script]
      : ['unshare', '--mount', '--net', '--propagation', 'private', 'sh', '-c', script];
    // `ip netns exec`, unshare and sh all exec the next program: the child's pid is libvirtd's.
    child = spawn(cmd, args, { stdio: ['ignore', out, out] });
    closeSync(out);
    const spawned = child;
    const exited = new Promise<string>((resolve) => {
      spawned.once('exit', (code, sig) => resolve(`libvirtd exited (${code ?? sig})`));
      spawned.once('error', (err) => resolve(`cannot start libvirtd: ${err.message}`));
    });
    const deadline = Date.now() + (opts.startTimeoutMs ?? 30_000);
    for (;;) {
      const ready = await access(join(dir, 'run', 'libvirt-sock')).then(
        () => virsh(['list', '--all'], 10_000).then(() => true, () => false),
        () => false,
      );
      if (ready) break;
      const failed = await Promise.race([exited, delay(100).then(() => undefined)]);
      if (failed || Date.now() > deadline) {
        const tail = (await readFile(log, 'utf8').catch(() => '')).trim().split('\n').slice(-5).join('\n');
        throw new Error(`${failed ?? `libvirtd did not answer within ${opts.startTimeoutMs ?? 30_000} ms`}; log ${log}:\n${tail}`);
      }
    }
  } catch (err) {
    await stop();
    throw err;
  }

  return {
    uri,
    pid: child.pid!,
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
