import type { NatsConnection } from '@nats-io/transport-node';
import { encodeTyped, type Logger, MAX_STATUS_ACTIONS, type NodeStatus, type Subjects } from '@entropy/protocol';
import type { HypervisorDriver } from './drivers/driver.ts';
import type { AgentState } from './state/agent-state.ts';

export interface StatusPublisherOptions {
  readonly nc: NatsConnection;
  readonly subjects: Subjects;
  readonly node: string;
  readonly driver: HypervisorDriver;
  readonly state: AgentState;
  readonly capacity: Readonly<Record<string, number>>;
  readonly logger: Logger;
  readonly now: () => number;
  /** How long after an action ends its status goes out: one status for every action that ends meanwhile. */
  readonly afterActionMs: number;
}

/** The node's status: what the driver lists, with each VM's vjob and demand, and the actions in flight. */
export class StatusPublisher {
  private seq = 0;
  private soonTimer: NodeJS.Timeout | undefined;

  constructor(private readonly o: StatusPublisherOptions) {}

  /** One status for every action that ends before it is sent. */
  readonly soon = (): void => {
    this.soonTimer ??= setTimeout(() => {
      this.soonTimer = undefined;
      void this.publish();
    }, this.o.afterActionMs);
  };

  /** True while a status is due after an action. */
  pending(): boolean {
    return this.soonTimer !== undefined;
  }

  /** `firstAfterStart`: the metadata of VMs the node no longer holds (they left while no agent ran) is dropped. */
  async publish(firstAfterStart = false): Promise<void> {
    const { nc, node, driver, logger } = this.o;
    const { ledger, meta } = this.o.state;
    if (this.soonTimer) {
      clearTimeout(this.soonTimer);
      this.soonTimer = undefined;
    }
    let vms;
    try {
      vms = await driver.list();
    } catch (err) {
      logger.warn({ err: (err as Error).message }, 'cannot list VMs; status not published');
      return;
    }
    if (firstAfterStart) {
      try {
        const dropped = meta.keepOnly(vms.map((v) => v.id));
        if (dropped > 0) logger.info({ dropped }, 'metadata of VMs no longer on the node dropped');
      } catch (err) {
        logger.warn({ err: (err as Error).message }, 'cannot save VM metadata');
      }
    }
    const running = ledger.running();
    const status: NodeStatus = {
      node,
      seq: this.seq++,
      ts: this.o.now(),
      driver: driver.name,
      capacity: { ...this.o.capacity },
      // Spelled out: a spread followed by more properties is a slow path of V8 (about 2 µs an object here).
      vms: vms.map((v) => {
        const m = meta.get(v.id);
        return {
          id: v.id,
          state: v.state,
          host: node,
          ...(v.cpu !== undefined ? { cpu: v.cpu } : {}),
          ...(v.mem !== undefined ? { mem: v.mem } : {}),
          ...(m ? { vjob: m.vjob, demand: m.demand } : {}),
        };
      }),
      inFlight: running.length,
      actions: running.length > MAX_STATUS_ACTIONS ? running.slice(0, MAX_STATUS_ACTIONS) : running,
    };
    if (!nc.isClosed() && !nc.isDraining()) nc.publish(this.o.subjects.nodeStatus(node), encodeTyped<'status'>(status));
  }
}
