import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const exec = promisify(execFile);
const ip = (args: readonly string[]) => exec('ip', args, { timeout: 30_000 });

/** A host of a lab or a test: a network namespace on the private bridge. */
export interface NamespaceHost {
  /** Network namespace name. */
  readonly ns: string;
  /** Its address on the bridge. */
  readonly addr: string;
}

export interface NamespaceHosts {
  readonly hosts: readonly NamespaceHost[];
  /** The namespace holding the bridge; it has an address on it too (a host for services: nats-server, the controller). */
  readonly switchNs: string;
  readonly switchAddr: string;
  /** Removes every namespace created, by the names recorded (their interfaces go with them). */
  remove(): Promise<void>;
}

export interface NamespaceHostsOptions {
  /**
   * Called with each namespace name before it is created, so that a caller that records names
   * (the lab's state file) can remove it even if this process dies right after creating it.
   */
  readonly beforeCreate?: (ns: string) => void | Promise<void>;
}

/** The address of the i-th host (from 0) on the bridge. */
export const hostAddress = (i: number) => `10.200.0.${11 + i}`;
const SWITCH_ADDR = '10.200.0.1';

/**
 * N hosts on one bridge, each a network namespace: `<prefix>sw` holds the bridge (at 10.200.0.1/24,
 * a host of its own for shared services), `<prefix><name>` the host with eth0 at 10.200.0.<11+i>/24. The machine's own namespace gets no interface and no
 * address; names carry the caller's prefix, so parallel labs and test runs do not collide (their
 * bridges and hosts live in their own namespaces, so the same addresses do not meet).
 */
export async function createNamespaceHosts(
  prefix: string,
  names: readonly string[],
  opts: NamespaceHostsOptions = {},
): Promise<NamespaceHosts> {
  const created: string[] = [];
  const remove = async () => {
    for (const ns of created.reverse()) await deleteNamespace(ns).catch(() => {});
    created.length = 0;
  };
  const add = async (ns: string) => {
    await opts.beforeCreate?.(ns);
    await ip(['netns', 'add', ns]);
    created.push(ns);
  };
  const hosts: NamespaceHost[] = [];
  const sw = `${prefix}sw`;
  try {
    await add(sw);
    await ip(['-n', sw, 'link', 'add', 'br0', 'type', 'bridge']);
    await ip(['-n', sw, 'link', 'set', 'br0', 'up']);
    await ip(['-n', sw, 'addr', 'add', `${SWITCH_ADDR}/24`, 'dev', 'br0']);
    await ip(['-n', sw, 'link', 'set', 'lo', 'up']);
    for (const [i, name] of names.entries()) {
      const ns = `${prefix}${name}`;
      const addr = hostAddress(i);
      await add(ns);
      await ip(['link', 'add', `vb${i}`, 'netns', sw, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns]);
      await ip(['-n', sw, 'link', 'set', `vb${i}`, 'master', 'br0']);
      await ip(['-n', sw, 'link', 'set', `vb${i}`, 'up']);
      await ip(['-n', ns, 'addr', 'add', `${addr}/24`, 'dev', 'eth0']);
      await ip(['-n', ns, 'link', 'set', 'eth0', 'up']);
      await ip(['-n', ns, 'link', 'set', 'lo', 'up']);
      hosts.push({ ns, addr });
    }
  } catch (err) {
    await remove();
    throw err;
  }
  return { hosts, switchNs: sw, switchAddr: SWITCH_ADDR, remove };
}

/** Deletes one network namespace by name; its veth ends and bridge go with it. */
export async function deleteNamespace(ns: string): Promise<void> {
  await ip(['netns', 'delete', ns]);
}

/** The network namespaces of the machine (`ip netns list`), names only. */
export async function listNamespaces(): Promise<string[]> {
  const { stdout } = await ip(['netns', 'list']);
  return stdout
    .split('\n')
    .map((l) => l.trim().split(' ')[0]!)
    .filter(Boolean);
}
