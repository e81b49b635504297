import type { StatusReply } from '@entropy/protocol';
import type { CommandResult } from '../command-io/io.ts';
import { controlRequest, type ControlClientOptions } from './queue-request.ts';
import { table } from '../command-io/text-table.ts';

export interface StatusCommandOptions extends ControlClientOptions {
  readonly json?: boolean;
}

/** `entropy status`: the controller's view of nodes and VMs, as tables or JSON. */
export async function statusCommand(options: StatusCommandOptions = {}): Promise<CommandResult> {
  const status = await controlRequest('status', { kind: 'statusRequest', msg: {} }, 'statusReply', options);
  return { output: options.json ? JSON.stringify(status, null, 2) : formatStatus(status), exitCode: 0 };
}

const num = (n: number | undefined) => (n === undefined ? '-' : String(Math.round(n * 100) / 100));

export function formatStatus(st: StatusReply): string {
  const out = [statusHeadline(st), '', ...nodeTable(st)];
  out.push('');
  out.push(
    ...table(
      ['vm', 'vjob', 'state', 'host', 'cpu', 'mem'],
      st.vms.map((v) => [v.id, v.vjob, v.state, v.host ?? '-', num(v.demand.cpu), num(v.demand.mem)]),
    ),
  );
  if (st.excluded.length > 0) {
    out.push('');
    out.push(`${st.excluded.length} VMs left out of planning:`);
    out.push(
      ...table(
        ['vm', 'vjob', 'node', 'reason'],
        st.excluded.map((e) => [e.vm, e.vjob ?? '-', e.node ?? '-', e.reason]),
      ),
    );
  }
  return out.join('\n');
}

export function statusHeadline(st: StatusReply): string {
  const online = st.nodes.filter((n) => n.liveness === 'online').length;
  return `controller ${st.controller}: ${online}/${st.nodes.length} nodes online, ${st.vms.length} VMs${st.running ? `, running plan ${st.running}` : ''}`;
}

/** One line per node: liveness, driver, use against capacity, VMs, actions in flight, last status. */
export function nodeTable(st: StatusReply): string[] {
  const out: string[] = [];
  const used = new Map<string, { cpu: number; mem: number }>();
  for (const v of st.vms)
    if (v.host && (v.state === 'running' || v.state === 'paused')) {
      const u = used.get(v.host) ?? { cpu: 0, mem: 0 };
      used.set(v.host, { cpu: u.cpu + (v.demand.cpu ?? 0), mem: u.mem + (v.demand.mem ?? 0) });
    }
  out.push(
    ...table(
      ['node', 'state', 'driver', 'cpu used/cap', 'mem used/cap', 'vms', 'in flight', 'last seen'],
      st.nodes.map((n) => [
        n.id,
        `${n.poweredOff ? 'powered off' : n.liveness}${n.wanted !== undefined ? ` (wanted ${n.wanted})` : ''}${n.drained ? ' drained' : ''}`,
        n.driver,
        `${num(used.get(n.id)?.cpu ?? 0)}/${num(n.capacity.cpu)}`,
        `${num(used.get(n.id)?.mem ?? 0)}/${num(n.capacity.mem)}`,
        String(n.vms),
        String(n.inFlight),
        `${((st.ts - n.lastSeen) / 1000).toFixed(1)}s ago`,
      ]),
    ),
  );
  return out;
}
