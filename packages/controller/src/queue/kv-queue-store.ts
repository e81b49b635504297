import { JetStreamApiCodes, JetStreamApiError } from '@nats-io/jetstream';
import { type KV, type KvEntry, Kvm } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import * as z from 'zod';
import { EntropyError, ErrorCode, type Logger } from '@entropy/protocol';
import { resolvedConstraintsSchema } from '@entropy/engine';
import {
  bySubmission,
  isEmptyPower,
  MemoryQueueStore,
  type NodePowerRecord,
  type PlanRecord,
  type QueueStore,
  type StoredVJob,
} from './queue-store.ts';

/** The stored JSON, checked when read back: a value written by another version or by hand is reported, not trusted. */
const storedSchema = z.object({
  id: z.string().min(1),
  owner: z.enum(['policy', 'operator']).optional(),
  wanted: z.enum(['waiting', 'running', 'sleeping', 'terminated']).optional(),
  priority: z.number().finite(),
  submittedAt: z.number().finite(),
  state: z.enum(['waiting', 'running', 'sleeping', 'terminated']),
  vms: z.array(
    z.object({
      id: z.string().min(1),
      demand: z.record(z.string(), z.number().finite()),
      started: z.boolean().optional(),
    }),
  ),
  constraints: resolvedConstraintsSchema.optional(),
  cancelRequestedAt: z.number().finite().optional(),
  end: z.enum(['finished', 'cancelled']).optional(),
  endedAt: z.number().finite().optional(),
});

const planRecordSchema = z.object({
  planId: z.string().min(1),
  status: z.enum(['running', 'completed', 'failed', 'aborted', 'stale', 'interrupted']),
  controller: z.string(),
  mode: z.string(),
  actions: z.number().int().min(0),
  steps: z.number().int().min(0),
  estimatedMs: z.number().finite(),
  startedAt: z.number().finite(),
  endedAt: z.number().finite().optional(),
  done: z.number().int().min(0).optional(),
  failed: z.number().int().min(0).optional(),
  failure: z.string().optional(),
  leftPaused: z.array(z.string()).optional(),
  uncertainVms: z.array(z.string()).optional(),
});

/** The key of the latest plan's record: vjob ids take no dot, so it never names a vjob. */
export const PLAN_RECORD_KEY = 'plan.last';
/** The key of the known nodes' list. */
export const KNOWN_NODES_KEY = 'cluster.nodes';
const knownNodesSchema = z.array(z.string().min(1));
/** The key of the nodes' power records. */
export const NODE_POWER_KEY = 'cluster.power';
const nodePowerSchema = z.record(
  z.string().min(1),
  z.object({
    wanted: z.enum(['online', 'offline']).optional(),
    poweredOff: z.object({ at: z.number().finite(), capacity: z.record(z.string(), z.number().finite()) }).optional(),
    drained: z.boolean().optional(),
  }),
);

export const DEFAULT_QUEUE_HISTORY = 5;
/** Compare-and-set retries before giving up: only concurrent writers to the same vjob make it loop. */
const MAX_CAS_ATTEMPTS = 50;

/** The KV bucket of a subject prefix: `entropy` -> `entropy_queue` (bucket names take no dots). */
export function queueBucketOf(prefix: string): string {
  return `${prefix.replaceAll('.', '_')}_queue`;
}

const isCasConflict = (err: unknown) =>
  err instanceof JetStreamApiError &&
  (err.code === JetStreamApiCodes.StreamWrongLastSequence ||
    err.code === JetStreamApiCodes.StreamWrongLastSequenceUnknown);

/**
 * The vjob queue in a JetStream KV bucket, one key per vjob id, JSON values. Every write of an
 * existing vjob is a compare-and-set on the revision read (`kv.update`), so two controllers or a
 * restarted one never lose an update. File storage: the queue survives a kill -9 of the controller
 * and of the server, as long as the server keeps its store directory.
 */
export class KvQueueStore implements QueueStore {
  readonly kind = 'kv' as const;

  private constructor(
    private readonly kv: KV,
    readonly bucket: string,
    private readonly onInvalid: (key: string, reason: string) => void,
  ) {}

  /** `replicas`: the servers of a NATS cluster that keep the bucket (1 by default). */
  static async open(
    nc: NatsConnection,
    bucket: string,
    options: { history?: number; replicas?: number; onInvalid?: (key: string, reason: string) => void } = {},
  ): Promise<KvQueueStore> {
    const kv = await new Kvm(nc).create(bucket, {
      history: options.history ?? DEFAULT_QUEUE_HISTORY,
      ...(options.replicas ? { replicas: options.replicas } : {}),
    });
    return new KvQueueStore(kv, bucket, options.onInvalid ?? (() => {}));
  }

  async add(vjob: StoredVJob): Promise<boolean> {
    try {
      await this.kv.create(vjob.id, JSON.stringify(vjob));
      return true;
    } catch (err) {
      if (isCasConflict(err)) return false;
      throw err;
    }
  }

  async get(id: string): Promise<StoredVJob | undefined> {
    return this.decode(await this.kv.get(id));
  }

  async list(): Promise<StoredVJob[]> {
    const keys: string[] = [];
    // Keys with a dot are the controller's own records, not vjobs.
    for await (const k of await this.kv.keys()) if (!k.includes('.')) keys.push(k);
    const all = await Promise.all(keys.map((k) => this.get(k)));
    return all.filter((v): v is StoredVJob => v !== undefined).sort(bySubmission);
  }

  async update(id: string, change: (current: StoredVJob) => StoredVJob | undefined): Promise<StoredVJob | undefined> {
    for (let attempt = 0; attempt < MAX_CAS_ATTEMPTS; attempt++) {
      const entry = await this.kv.get(id);
      const current = this.decode(entry);
      if (!current || !entry) return undefined;
      const next = change(current);
      if (next === undefined) return current;
      if (next.id !== id) throw new RangeError(`update of vjob ${id} cannot change its id to ${next.id}`);
      try {
        await this.kv.update(id, JSON.stringify(next), entry.revision);
        return next;
      } catch (err) {
        if (!isCasConflict(err)) throw err;
      }
    }
    throw new EntropyError(
      ErrorCode.Io,
      `vjob ${id}: gave up after ${MAX_CAS_ATTEMPTS} conflicting writes to bucket ${this.bucket}`,
    );
  }

  /** Purges the key: its history goes, a purge marker stays until JetStream drops it. */
  async remove(id: string): Promise<void> {
    await this.kv.purge(id);
  }

  async recordPlan(record: PlanRecord): Promise<void> {
    await this.kv.put(PLAN_RECORD_KEY, JSON.stringify(record));
  }

  async lastPlan(): Promise<PlanRecord | undefined> {
    return this.read(await this.kv.get(PLAN_RECORD_KEY), planRecordSchema);
  }

  async knownNodes(): Promise<string[]> {
    return (await this.readKnownNodes()).nodes;
  }

  async addKnownNodes(nodes: readonly string[]): Promise<void> {
    for (let attempt = 0; attempt < MAX_CAS_ATTEMPTS; attempt++) {
      const { nodes: known, revision } = await this.readKnownNodes();
      const added = nodes.filter((n) => !known.includes(n));
      if (added.length === 0) return;
      const value = JSON.stringify([...known, ...added].sort());
      try {
        if (revision === undefined) await this.kv.create(KNOWN_NODES_KEY, value);
        else await this.kv.update(KNOWN_NODES_KEY, value, revision);
        return;
      } catch (err) {
        if (!isCasConflict(err)) throw err;
      }
    }
    throw new EntropyError(
      ErrorCode.Io,
      `${KNOWN_NODES_KEY}: gave up after ${MAX_CAS_ATTEMPTS} conflicting writes to bucket ${this.bucket}`,
    );
  }

  async nodePower(): Promise<Record<string, NodePowerRecord>> {
    return this.read(await this.kv.get(NODE_POWER_KEY), nodePowerSchema) ?? {};
  }

  async updateNodePower(
    node: string,
    change: (current: NodePowerRecord | undefined) => NodePowerRecord | undefined,
  ): Promise<NodePowerRecord | undefined> {
    for (let attempt = 0; attempt < MAX_CAS_ATTEMPTS; attempt++) {
      const entry = await this.kv.get(NODE_POWER_KEY);
      const all: Record<string, NodePowerRecord> = this.read(entry, nodePowerSchema) ?? {};
      const next = change(all[node]);
      if (next === undefined || isEmptyPower(next)) delete all[node];
      else all[node] = next;
      try {
        if (entry && entry.operation === 'PUT')
          await this.kv.update(NODE_POWER_KEY, JSON.stringify(all), entry.revision);
        else await this.kv.create(NODE_POWER_KEY, JSON.stringify(all));
        return all[node];
      } catch (err) {
        if (!isCasConflict(err)) throw err;
      }
    }
    throw new EntropyError(
      ErrorCode.Io,
      `${NODE_POWER_KEY}: gave up after ${MAX_CAS_ATTEMPTS} conflicting writes to bucket ${this.bucket}`,
    );
  }

  async close(): Promise<void> {}

  private async readKnownNodes(): Promise<{ nodes: string[]; revision?: number }> {
    const entry = await this.kv.get(KNOWN_NODES_KEY);
    const nodes = this.read(entry, knownNodesSchema) ?? [];
    return { nodes, ...(entry && entry.operation === 'PUT' ? { revision: entry.revision } : {}) };
  }

  private decode(entry: KvEntry | null): StoredVJob | undefined {
    return this.read(entry, storedSchema) as StoredVJob | undefined;
  }

  /** The entry's JSON checked against its schema; a value that fails is reported and read as absent. */
  private read<T>(entry: KvEntry | null, schema: z.ZodType<T>): T | undefined {
    if (!entry || entry.operation !== 'PUT') return undefined;
    let json: unknown;
    try {
      json = entry.json();
    } catch (err) {
      this.onInvalid(entry.key, `not JSON: ${(err as Error).message}`);
      return undefined;
    }
    const parsed = schema.safeParse(json);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      this.onInvalid(entry.key, `${issue?.path.join('.') || '$'}: ${issue?.message}`);
      return undefined;
    }
    return parsed.data;
  }
}

export const QueueStoreKind = { Auto: 'auto', Kv: 'kv', Memory: 'memory' } as const;
export type QueueStoreKind = (typeof QueueStoreKind)[keyof typeof QueueStoreKind];

/**
 * The controller's queue store. `kv` needs JetStream and fails with a one-line error naming the
 * fix; `auto` (the default) falls back to memory with a warning, so a cluster started without
 * JetStream still runs (and loses its queue on a controller restart); `memory` never asks.
 */
export async function openQueueStore(
  nc: NatsConnection,
  options: { kind: QueueStoreKind; bucket: string; logger: Logger; replicas?: number },
): Promise<QueueStore> {
  const { kind, bucket, logger } = options;
  if (kind === QueueStoreKind.Memory) return new MemoryQueueStore();
  try {
    const store = await KvQueueStore.open(nc, bucket, {
      ...(options.replicas ? { replicas: options.replicas } : {}),
      onInvalid: (key, reason) => logger.warn({ bucket, key, reason }, 'invalid vjob entry in the queue store ignored'),
    });
    logger.info({ store: 'kv', bucket }, 'vjob queue in JetStream KV');
    return store;
  } catch (cause) {
    const why = `JetStream KV bucket ${bucket} unavailable (${(cause as Error).message}); start nats-server with JetStream: nats-server -js -sd DIR`;
    if (kind === QueueStoreKind.Kv) throw new EntropyError(ErrorCode.Io, why, { cause });
    logger.warn(
      { store: 'memory', bucket, err: (cause as Error).message },
      `${why}; the vjob queue is kept in memory and lost when the controller stops`,
    );
    return new MemoryQueueStore();
  }
}
