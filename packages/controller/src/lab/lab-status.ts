import { encodeControl, type StatusReply, subjects } from '@entropy/protocol';
import { askController, connectNats } from '../controller/nats-connect.ts';
import { labNats, type LabState } from './lab-state.ts';
import { virshAt } from './libvirtd.ts';
import { listNamespaces } from './netns-hosts.ts';
import { isRunning } from './recorded-process.ts';

export interface LabStatus {
  readonly state: LabState;
  /** `off`: not alive, and its host is powered off (`lab host-stop`), as it should be. */
  readonly processes: readonly {
    readonly name: string;
    readonly pid: number;
    readonly alive: boolean;
    readonly off: boolean;
  }[];
  /** Per host: its namespace, and the domains its libvirtd runs (running or paused), or why it does not answer; when it was powered off. */
  readonly hosts: readonly {
    readonly node: string;
    readonly ns: string;
    readonly addr: string;
    readonly nsExists: boolean;
    readonly domains: readonly string[] | string;
    readonly poweredOffAt?: number;
  }[];
  /** The controller's view, or why it did not answer. */
  readonly controller: StatusReply | string;
}

/** What runs of a recorded lab: its processes by identity, its namespaces, each host's domains as its libvirtd lists them, the controller's view. */
export async function labStatus(state: LabState): Promise<LabStatus> {
  const namespaces = new Set(await listNamespaces().catch(() => [] as string[]));
  const hosts = await Promise.all(
    state.hosts.map(async (h) => {
      const domains = await virshAt(h.uri)(['list', '--name'], 10_000).then(
        (out) =>
          out
            .split('\n')
            .map((l) => l.trim())
            .filter(Boolean),
        (err: Error) => `libvirtd does not answer (${err.message.split('\n')[0]})`,
      );
      return {
        node: h.node,
        ns: h.ns,
        addr: h.addr,
        nsExists: namespaces.has(h.ns),
        domains,
        ...(h.poweredOffAt !== undefined ? { poweredOffAt: h.poweredOffAt } : {}),
      };
    }),
  );
  let controller: StatusReply | string = 'no NATS URL recorded';
  if (state.nats) {
    try {
      const nc = await connectNats(labNats(state), 'entropy-lab-status');
      try {
        controller = await askController(
          nc,
          { subjects: subjects(), url: state.nats.url },
          'status',
          encodeControl('statusRequest', {}),
          'statusReply',
          3000,
        );
      } finally {
        await nc.close();
      }
    } catch (err) {
      controller = (err as Error).message;
    }
  }
  const off = new Set(state.hosts.filter((h) => h.poweredOffAt !== undefined).map((h) => h.node));
  const processes = state.processes.map((p) => {
    const alive = isRunning(p);
    return { name: p.name, pid: p.pid, alive, off: !alive && p.node !== undefined && off.has(p.node) };
  });
  return { state, processes, hosts, controller };
}

export function formatLabStatus(st: LabStatus): string {
  const s = st.state;
  const alive = st.processes.filter((p) => p.alive).length;
  const off = st.processes.filter((p) => p.off).length;
  const iso = (t: number) => new Date(t).toISOString();
  const out = [
    `lab ${s.prefix} in ${s.dir}: ${s.phase}${s.upAt ? ` since ${iso(s.upAt)}` : ''}; ${alive}/${st.processes.length} processes alive${off > 0 ? `, ${off} off with their host` : ''}`,
    ...(s.nats ? [`NATS ${s.nats.url} (on the lab's bridge: ${s.nats.hostUrl})`] : []),
    '',
    'hosts:',
    ...st.hosts.map((h) => {
      const guests =
        typeof h.domains === 'string'
          ? h.domains
          : h.domains.length === 0
            ? 'no guest'
            : `guests ${h.domains.join(', ')}`;
      // A powered-off host's libvirtd does not answer, as it should; one that does is worth saying.
      const doms =
        h.poweredOffAt === undefined
          ? guests
          : `powered off since ${iso(h.poweredOffAt)}${typeof h.domains === 'string' ? '' : ` (yet its libvirtd answers: ${guests})`}`;
      return `  ${h.node.padEnd(4)} ${h.addr.padEnd(12)} ${h.ns}${h.nsExists ? '' : ' (namespace gone)'}: ${doms}`;
    }),
    '',
    'processes:',
    ...st.processes.map(
      (p) =>
        `  ${p.name.padEnd(24)} pid ${String(p.pid).padEnd(8)} ${p.alive ? 'alive' : p.off ? 'off (host powered off)' : 'GONE'}`,
    ),
    '',
  ];
  if (typeof st.controller === 'string') out.push(`controller: does not answer (${st.controller})`);
  else {
    const nodes = st.controller.nodes;
    const online = nodes.filter((n) => n.liveness === 'online').length;
    const others = nodes
      .filter((n) => n.liveness !== 'online')
      .map((n) => `${n.id} ${n.liveness}${n.poweredOff ? ', powered off' : ''}`);
    out.push(
      `controller ${st.controller.controller}: ${online}/${nodes.length} nodes online${others.length > 0 ? ` (${others.join('; ')})` : ''}, ${st.controller.vms.length} VMs${st.controller.running ? `, running plan ${st.controller.running}` : ''}`,
    );
    for (const v of st.controller.vms)
      out.push(`  ${v.id.padEnd(4)} ${(v.vjob ?? '-').padEnd(4)} ${v.state.padEnd(9)} ${v.host ?? '-'}`);
  }
  return out.join('\n');
}
