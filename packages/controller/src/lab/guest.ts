import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { workspacePath } from '../workspace.ts';

const exec = promisify(execFile);
const GUEST_SCRIPT = workspacePath('scripts', 'libvirt-guest.sh');
/** Where scripts/libvirt-guest.sh keeps the guest when not told otherwise. */
export const DEFAULT_GUEST_CACHE = workspacePath('.cache', 'libvirt-guest');

/** What the guest's /init prints once, on boot; then `entropy-tick N` every second. */
export const GUEST_MARKER = 'ENTROPY-GUEST-UP';

export interface GuestImage {
  readonly kernel: string;
  readonly initrd: string;
  /** sha256 of each file, as the cache's SHA256SUMS lists them (checked by the script before reuse). */
  readonly sha256: Readonly<Record<string, string>>;
}

/**
 * The tiny guest (Debian kernel + busybox initramfs), built once into the cache by
 * scripts/libvirt-guest.sh, which checks the cache's checksums before reusing it and rebuilds it
 * when they fail.
 */
export async function guestImage(cacheDir: string = DEFAULT_GUEST_CACHE): Promise<GuestImage> {
  const { stdout } = await exec('bash', [GUEST_SCRIPT, cacheDir], { timeout: 600_000 });
  const dir = stdout.trim().split('\n').at(-1)!;
  const sums = await readFile(join(dir, 'SHA256SUMS'), 'utf8');
  const sha256 = Object.fromEntries(
    sums
      .trim()
      .split('\n')
      .map((l) => l.trim().split(/\s+/).reverse() as [string, string]),
  );
  return { kernel: join(dir, 'vmlinuz'), initrd: join(dir, 'initrd.gz'), sha256 };
}

export interface GuestOptions {
  readonly name: string;
  readonly image: Pick<GuestImage, 'kernel' | 'initrd'>;
  /** The serial console's file; appended to, so it survives save/restore and migrations and tells the whole story. */
  readonly serial: string;
  readonly memMiB?: number;
}

/** A TCG guest with no disk and no NIC, one vcpu: kernel + initramfs, serial console to a file. */
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

/** A guest's console: how many times it booted, its ticks in order, the last one. */
export interface SerialConsole {
  readonly boots: number;
  readonly ticks: readonly number[];
  readonly lastTick: number | undefined;
  readonly text: string;
}

export function parseSerial(text: string): SerialConsole {
  const boots = text.split('\n').filter((l) => l.trim() === GUEST_MARKER).length;
  const ticks = [...text.matchAll(/^entropy-tick (\d+)\s*$/gm)].map((m) => Number(m[1]));
  return { boots, ticks, lastTick: ticks.at(-1), text };
}

export async function readSerial(file: string): Promise<SerialConsole> {
  return parseSerial(await readFile(file, 'utf8').catch(() => ''));
}

/**
 * Why a console does not show one life of the guest, or undefined when it does: one boot marker
 * and the ticks 1, 2, 3, ... each once, in order. The counter lives in the guest's memory: a
 * reboot starts it at 1 again, a lost memory state would repeat or skip values.
 */
export function consoleBreak(c: Pick<SerialConsole, 'boots' | 'ticks'>): string | undefined {
  if (c.boots !== 1) return `${c.boots} boot markers`;
  const i = c.ticks.findIndex((t, k) => t !== k + 1);
  return i < 0 ? undefined : `tick ${c.ticks[i]} where ${i + 1} was due`;
}

/**
 * Waits until every guest of `vms` has printed its marker and ticked `ticks` times past `after`
 * (its last tick before, 0 when absent); `serialOf` names each guest's console file.
 */
export async function untilTicking(
  serialOf: (vm: string) => string,
  vms: readonly string[],
  opts: { after?: ReadonlyMap<string, number>; ticks?: number; timeoutMs: number },
): Promise<void> {
  const deadline = Date.now() + opts.timeoutMs;
  const behind = async () => {
    for (const vm of vms) {
      const c = await readSerial(serialOf(vm));
      if (c.boots < 1 || (c.lastTick ?? 0) < (opts.after?.get(vm) ?? 0) + (opts.ticks ?? 2)) return vm;
    }
    return undefined;
  };
  for (let vm = await behind(); vm !== undefined; vm = await behind()) {
    if (Date.now() > deadline) throw new Error(`${vm} is not ticking after ${opts.timeoutMs} ms (${serialOf(vm)})`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Each guest's last tick now. */
export async function lastTicks(
  serialOf: (vm: string) => string,
  vms: readonly string[],
): Promise<Map<string, number>> {
  return new Map(
    await Promise.all(vms.map(async (vm) => [vm, (await readSerial(serialOf(vm))).lastTick ?? 0] as const)),
  );
}
