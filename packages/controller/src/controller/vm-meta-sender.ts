import type { NatsConnection } from '@nats-io/transport-node';
import { decode, encode, type Logger, type Subjects } from '@entropy/protocol';
import type { NatsMonitor } from '../monitor/index.ts';

/**
 * Tells agents the vjob and demand of the VMs they report without them (a VM that arrived by a live
 * migration: its destination got no request for it). Each call sends what is due; a VM's metadata
 * goes again only after ten status periods, so that an agent slow to report it is not flooded.
 */
export function vmMetaSender(
  nc: NatsConnection,
  s: Subjects,
  monitor: Pick<NatsMonitor, 'unannotated'>,
  logger: Logger,
  periodMs: number,
): (token: number | undefined) => void {
  /** When each VM's metadata was last sent. */
  const sent = new Map<string, number>();
  return (token) => {
    const now = Date.now();
    for (const [node, vms] of monitor.unannotated()) {
      const due = vms.filter((v) => now - (sent.get(v.vm) ?? 0) > 10 * periodMs);
      if (due.length === 0) continue;
      for (const v of due) sent.set(v.vm, now);
      const msg = {
        vms: due.map((v) => ({
          vm: v.vm,
          vjob: v.vjob,
          demand: { ...v.demand, cpu: v.demand.cpu ?? 0, mem: v.demand.mem ?? 0 },
        })),
        ...(token !== undefined ? { token } : {}),
      };
      nc.request(s.nodeMeta(node), encode('vmMeta', msg), { timeout: 2000 }).then(
        (m) => {
          const r = decode('vmMetaAck', m.data);
          if (r.ok && r.msg.updated > 0)
            logger.info(
              { node, vms: due.map((v) => v.vm) },
              'told an agent the vjob and demand of VMs it reported without them',
            );
        },
        () => undefined,
      );
    }
  };
}
