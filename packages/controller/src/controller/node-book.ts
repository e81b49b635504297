import type { Logger } from '@entropy/protocol';
import { isEmptyPower, type NodePowerRecord, type QueueStore } from '../queue/queue-store.ts';

/**
 * What the controller keeps about nodes beyond the agents' reports: the nodes it has ever seen
 * (a restarted controller waits for them) and each node's power record (the operator's wanted
 * state, a plan's power-off). The queue store holds both; this is its cache, read when leading
 * starts and written through.
 */
export class NodeBook {
  private readonly known: Set<string>;
  private readonly power = new Map<string, NodePowerRecord>();

  constructor(
    private readonly logger: Logger,
    private readonly store: QueueStore | undefined,
    knownNodes: readonly string[] = [],
  ) {
    this.known = new Set(knownNodes);
  }

  knownNodes(): ReadonlySet<string> {
    return this.known;
  }

  records(): ReadonlyMap<string, NodePowerRecord> {
    return this.power;
  }

  /** Reads the store again (the previous leader wrote to it). */
  async reload(): Promise<void> {
    if (!this.store) return;
    for (const n of await this.store.knownNodes()) this.known.add(n);
    this.power.clear();
    for (const [n, r] of Object.entries(await this.store.nodePower())) this.power.set(n, r);
  }

  /** Nodes seen for the first time are written to the store. */
  remember(nodes: readonly string[]): void {
    const added = nodes.filter((n) => !this.known.has(n));
    if (added.length === 0) return;
    for (const n of added) this.known.add(n);
    this.store
      ?.addKnownNodes(added)
      .catch((err: Error) => this.logger.warn({ nodes: added, err: err.message }, 'cannot record the known nodes'));
  }

  /** Writes a node's power record to the store and the cache; a store that fails is logged, the cache still changes. */
  readonly update = async (
    node: string,
    change: (current: NodePowerRecord | undefined) => NodePowerRecord | undefined,
  ): Promise<void> => {
    const local = change(this.power.get(node));
    if (local && !isEmptyPower(local)) this.power.set(node, local);
    else this.power.delete(node);
    if (!this.store) return;
    try {
      const stored = await this.store.updateNodePower(node, change);
      if (stored) this.power.set(node, stored);
      else this.power.delete(node);
    } catch (err) {
      this.logger.warn({ node, err: (err as Error).message }, 'cannot record the node power state');
    }
  };

  /** A node came online: it is no longer powered off, and a wish to see it online is fulfilled. */
  poweredOn(node: string): void {
    const r = this.power.get(node);
    if (!r || (r.poweredOff === undefined && r.wanted !== 'online')) return;
    void this.update(node, (current) => ({
      ...(current?.wanted === 'offline' ? { wanted: 'offline' as const } : {}),
      ...(current?.drained ? { drained: true } : {}),
    }));
  }

  /** A plan powered the node off: recorded with its capacity, so that a plan can boot it again. */
  poweredOff(node: string, capacity: Readonly<Record<string, number>>): void {
    void this.update(node, (r) => ({ ...r, poweredOff: { at: Date.now(), capacity } }));
  }

  /** The nodes the loop waits for: known ones, but not those a plan powered off (they report again only once booted). */
  awaited(): string[] {
    return [...this.known].filter((n) => this.power.get(n)?.poweredOff === undefined);
  }

  /** The operator's wanted node states and the powered-off nodes' capacities, as the reconcile turn takes them. */
  wants(): {
    wanted: Record<string, 'online' | 'offline'>;
    poweredOff: Record<string, Readonly<Record<string, number>>>;
    drained: string[];
  } {
    const wanted: Record<string, 'online' | 'offline'> = {};
    const poweredOff: Record<string, Readonly<Record<string, number>>> = {};
    const drained: string[] = [];
    for (const [n, r] of this.power) {
      if (r.wanted !== undefined) wanted[n] = r.wanted;
      if (r.poweredOff !== undefined) poweredOff[n] = r.poweredOff.capacity;
      if (r.drained) drained.push(n);
    }
    return { wanted, poweredOff, drained };
  }
}
