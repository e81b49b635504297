import { createHash } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import {
  DeliverPolicy,
  DiscardPolicy,
  jetstream,
  jetstreamManager,
  type JetStreamClient,
  type JetStreamManager,
  StorageType,
} from '@nats-io/jetstream';
import { nanos, type NatsConnection } from '@nats-io/transport-node';
import { assertToken, EntropyError, ErrorCode, type Logger } from '@entropy/protocol';
import { type JournalRecord, journalRecordSchema, MemoryJournal, type PlanJournal } from './plan-journal.ts';

/** The stream of a subject prefix: `entropy` -> `entropy_journal` (stream names take no dots). */
export function journalStreamOf(prefix: string): string {
  return `${prefix.replaceAll('.', '_')}_journal`;
}

/** The subject of one plan's records: one subject per plan, so a plan reads back alone. */
export function journalSubject(prefix: string, planId: string): string {
  return `${prefix}.journal.${assertToken(planId, 'planId')}`;
}

export interface StreamJournalOptions {
  readonly prefix: string;
  readonly logger: Logger;
  /** How long records are kept (default 7 days). */
  readonly maxAgeMs?: number;
  /** Upper bound of the stream's size; the oldest records go first (default 256 MiB). */
  readonly maxBytes?: number;
  /** The servers of a NATS cluster that keep the stream (1 by default). */
  readonly replicas?: number;
}

export const DEFAULT_JOURNAL_MAX_AGE_MS = 7 * 24 * 60 * 60 * 1000;
export const DEFAULT_JOURNAL_MAX_BYTES = 256 * 1024 * 1024;
/** How long reading one plan's records may take before it is given up (and reported). */
const READ_TIMEOUT_MS = 10_000;
/** How long an append is tried again (a cluster electing the stream's new leader), and how often. */
const APPEND_RETRY_MS = 20_000;
const APPEND_RETRY_DELAY_MS = 250;

/**
 * The plan journal in a JetStream stream, file storage, one subject per plan. An append resolves
 * once the server has stored every record (its publish acknowledgement): an intent is durable
 * before its action leaves. Records are JSON, checked against their schema when read back.
 */
export class StreamJournal implements PlanJournal {
  readonly kind = 'stream' as const;
  private readonly encoder = new TextEncoder();
  private readonly decoder = new TextDecoder();

  private constructor(
    private readonly js: JetStreamClient,
    private readonly jsm: JetStreamManager,
    readonly stream: string,
    private readonly prefix: string,
    private readonly logger: Logger,
  ) {}

  static async open(nc: NatsConnection, options: StreamJournalOptions): Promise<StreamJournal> {
    const jsm = await jetstreamManager(nc);
    const name = journalStreamOf(options.prefix);
    const config = {
      name,
      subjects: [`${options.prefix}.journal.*`],
      storage: StorageType.File,
      discard: DiscardPolicy.Old,
      max_age: nanos(options.maxAgeMs ?? DEFAULT_JOURNAL_MAX_AGE_MS),
      max_bytes: options.maxBytes ?? DEFAULT_JOURNAL_MAX_BYTES,
      num_replicas: options.replicas ?? 1,
    };
    try {
      await jsm.streams.info(name);
      await jsm.streams.update(name, config);
    } catch {
      await jsm.streams.add(config);
    }
    return new StreamJournal(jetstream(nc), jsm, name, options.prefix, options.logger);
  }

  /** The journal of a prefix for a reader (`entropy calibrate`, `entropy gantt`): never creates or changes the stream. */
  static async existing(
    nc: NatsConnection,
    options: Pick<StreamJournalOptions, 'prefix' | 'logger'>,
  ): Promise<StreamJournal> {
    const name = journalStreamOf(options.prefix);
    let jsm: JetStreamManager;
    try {
      jsm = await jetstreamManager(nc);
      await jsm.streams.info(name);
    } catch (cause) {
      throw new EntropyError(
        ErrorCode.Io,
        `no plan journal on prefix ${options.prefix} at ${nc.getServer()}: JetStream stream ${name} unavailable (${(cause as Error).message})`,
        { cause },
      );
    }
    return new StreamJournal(jetstream(nc), jsm, name, options.prefix, options.logger);
  }

  async append(records: readonly JournalRecord[]): Promise<void> {
    // Published together, acknowledged together: one round trip for a whole dispatch unit.
    await Promise.all(
      records.map((r) =>
        this.publishDurably(journalSubject(this.prefix, r.planId), this.encoder.encode(JSON.stringify(r))),
      ),
    );
  }

  /**
   * Publishes until the server acknowledges (see patiently). The record's hash is its message id,
   * so that a record whose acknowledgement was lost is stored once.
   */
  private async publishDurably(subject: string, data: Uint8Array): Promise<void> {
    const msgID = createHash('sha1').update(subject).update(data).digest('base64url');
    await this.patiently(
      () => this.js.publish(subject, data, { msgID }),
      (err) =>
        this.logger.warn(
          { stream: this.stream, err: err.message },
          'journal: a record not acknowledged; publishing it again',
        ),
    );
  }

  /**
   * Retries `op` for up to APPEND_RETRY_MS: in a NATS cluster a stream's requests time out while its
   * replicas elect a new leader (a server just died); writes and reads wait that out, not fail.
   * `onFirstRetry` hears of the first failure.
   */
  private async patiently<T>(op: () => Promise<T>, onFirstRetry?: (err: Error) => void): Promise<T> {
    const deadline = Date.now() + APPEND_RETRY_MS;
    for (let attempt = 1; ; attempt++) {
      try {
        return await op();
      } catch (err) {
        if (Date.now() + APPEND_RETRY_DELAY_MS >= deadline) throw err;
        if (attempt === 1) onFirstRetry?.(err as Error);
        await delay(APPEND_RETRY_DELAY_MS);
      }
    }
  }

  async read(planId: string): Promise<JournalRecord[]> {
    return this.patiently(() => this.readOnce(planId));
  }

  private async readOnce(planId: string): Promise<JournalRecord[]> {
    const subject = journalSubject(this.prefix, planId);
    const info = await this.jsm.streams.info(this.stream, { subjects_filter: subject });
    const count = info.state.subjects?.[subject] ?? 0;
    if (count === 0) return [];
    const consumer = await this.js.consumers.get(this.stream, { filter_subjects: subject });
    const out: JournalRecord[] = [];
    const messages = await consumer.consume({ max_messages: Math.min(count, 1000) });
    const timer = setTimeout(() => void messages.close(), READ_TIMEOUT_MS);
    let read = 0;
    try {
      for await (const m of messages) {
        read++;
        const parsed = this.parse(m.data);
        if (parsed) out.push(parsed);
        if (m.info.pending === 0 || read >= count) break;
      }
    } finally {
      clearTimeout(timer);
      await messages.close();
    }
    if (read < count)
      this.logger.warn({ planId, read, count }, "journal: the plan's records could not all be read in time");
    return out;
  }

  async plans(): Promise<string[]> {
    const all = `${this.prefix}.journal.*`;
    const info = await this.jsm.streams.info(this.stream, { subjects_filter: all });
    const count = Object.keys(info.state.subjects ?? {}).length;
    if (count === 0) return [];
    // The last record of each plan's subject, headers only: its sequence orders the plans.
    const consumer = await this.js.consumers.get(this.stream, {
      filter_subjects: all,
      deliver_policy: DeliverPolicy.LastPerSubject,
      headers_only: true,
    });
    const last: [number, string][] = [];
    const messages = await consumer.consume({ max_messages: Math.min(count, 1000) });
    const timer = setTimeout(() => void messages.close(), READ_TIMEOUT_MS);
    try {
      for await (const m of messages) {
        last.push([m.seq, m.subject.slice(this.prefix.length + '.journal.'.length)]);
        if (m.info.pending === 0 || last.length >= count) break;
      }
    } finally {
      clearTimeout(timer);
      await messages.close();
    }
    return last.sort((a, b) => a[0] - b[0]).map(([, planId]) => planId);
  }

  async close(): Promise<void> {}

  private parse(data: Uint8Array): JournalRecord | undefined {
    let json: unknown;
    try {
      json = JSON.parse(this.decoder.decode(data));
    } catch (err) {
      this.logger.warn({ stream: this.stream, err: (err as Error).message }, 'journal: a record is not JSON; skipped');
      return undefined;
    }
    const r = journalRecordSchema.safeParse(json);
    if (r.success) return r.data;
    const issue = r.error.issues[0];
    this.logger.warn(
      { stream: this.stream, field: issue?.path.join('.'), reason: issue?.message },
      'journal: a malformed record; skipped',
    );
    return undefined;
  }
}

/**
 * The controller's journal: the JetStream stream, or memory when the server has no JetStream
 * (then a restarted controller learns only what the agents report, which is enough to be safe).
 */
export async function openJournal(
  nc: NatsConnection,
  options: StreamJournalOptions & { readonly required?: boolean },
): Promise<PlanJournal> {
  try {
    const journal = await StreamJournal.open(nc, options);
    options.logger.info({ journal: 'stream', stream: journal.stream }, 'plan journal in JetStream');
    return journal;
  } catch (cause) {
    const why = `JetStream stream ${journalStreamOf(options.prefix)} unavailable (${(cause as Error).message})`;
    if (options.required) throw new EntropyError(ErrorCode.Io, why, { cause });
    options.logger.warn(
      { journal: 'memory', err: (cause as Error).message },
      `${why}; the plan journal is kept in memory`,
    );
    return new MemoryJournal();
  }
}
