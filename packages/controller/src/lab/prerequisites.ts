import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const exec = promisify(execFile);

const INSTALL =
  'run `bash scripts/setup.sh --test` as root (it installs libvirt-daemon-system, libvirt-clients, qemu-system-x86, qemu-utils, cpio, busybox-static, iproute2, nats-server)';

async function missing(bins: readonly string[]): Promise<string | undefined> {
  for (const bin of bins) {
    try {
      await exec('sh', ['-c', `command -v ${bin}`]);
    } catch {
      return bin;
    }
  }
  return undefined;
}

/**
 * Why a real libvirtd cannot run here, or undefined when it can. libvirtd needs root (private mounts,
 * QEMU, cgroups) and the Debian packages scripts/setup.sh installs.
 */
export async function libvirtUnavailableReason(): Promise<string | undefined> {
  if (process.getuid?.() !== 0) return 'not root: libvirtd needs root for its private mounts and QEMU';
  const bin = await missing(['libvirtd', 'virsh', 'qemu-system-x86_64', 'unshare', 'cpio', 'dpkg-deb', 'apt-get']);
  return bin === undefined ? undefined : `${bin} not found: ${INSTALL}`;
}

/** Why `entropy lab up` cannot run here: libvirtd's needs, plus network namespaces and a nats-server. */
export async function labUnavailableReason(): Promise<string | undefined> {
  if (process.getuid?.() !== 0)
    return 'not root: the lab creates network namespaces and runs libvirtd and QEMU, which need root';
  const why = await libvirtUnavailableReason();
  if (why !== undefined) return why;
  const bin = await missing(['ip', 'nats-server', 'sha256sum']);
  return bin === undefined ? undefined : `${bin} not found: ${INSTALL}`;
}
