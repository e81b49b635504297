import { ProtocolErrorCode } from './error-codes.ts';
import { decode, type DecodeResult, MAX_MESSAGE_BYTES, type MessageKind, unpackRaw } from './codec.ts';
import { CONTROL_VERBS, type ControlVerb, subjects as subjectsOf } from './subjects.ts';
import { CONTROL_SCHEMAS, type ControlKind, decodeControl } from './control.ts';

/** A message as the watcher sees it: nats.js's `Msg` fits. */
export interface WatchMessage {
  readonly subject: string;
  readonly data: Uint8Array;
  /** The subject a request wants its reply on. */
  readonly reply?: string;
}

export interface WatcherOptions {
  readonly prefix?: string;
  /** Subject prefixes that replies travel under (nats.js: `_INBOX`, or a client's `inboxPrefix`). */
  readonly inboxPrefixes?: readonly string[];
  /**
   * Show replies to requests the watcher did not see (it started after them, or a subject filter
   * left them out), decoded by their shape (default true); off when a filter is given, so that a
   * filter shows its requests and their replies only.
   */
  readonly unpairedReplies?: boolean;
  /** No decoding: every message as msgpack gives it, unvalidated, or its bytes in base64. */
  readonly raw?: boolean;
  /** How many requests may await their reply at once (the oldest are forgotten). */
  readonly maxPending?: number;
  /** The most bytes of chunked control replies held at once. */
  readonly maxChunkBytes?: number;
}

export const DEFAULT_INBOX_PREFIX = '_INBOX';
export const DEFAULT_MAX_PENDING_REPLIES = 10_000;
export const DEFAULT_MAX_CHUNK_BYTES = 64 * 1024 * 1024;

type AnyKind = MessageKind | ControlKind;
type Decoded = DecodeResult<unknown>;

/** What each request subject carries and what its reply is; publications have no reply kind. */
const NODE_KINDS = {
  status: ['status', undefined],
  hello: ['hello', 'helloAck'],
  action: ['actionRequest', 'actionResult'],
  ledger: ['ledgerQuery', 'ledgerReply'],
  meta: ['vmMeta', 'vmMetaAck'],
  power: ['powerRequest', 'powerReply'],
  simLink: ['simLinkRequest', 'simLinkReply'],
  progress: ['progress', undefined],
} as const satisfies Record<string, readonly [MessageKind, MessageKind | undefined]>;

/** Reply kinds tried, in order, on a reply whose request was not seen. */
const REPLY_SHAPES: readonly AnyKind[] = [
  'actionResult',
  'helloAck',
  'ledgerReply',
  'vmMetaAck',
  'powerReply',
  'simLinkReply',
  ...CONTROL_VERBS.map((v) => `${v}Reply` as ControlKind),
];

const isControlKind = (kind: AnyKind): kind is ControlKind => Object.hasOwn(CONTROL_SCHEMAS, kind);

function decodeAs(kind: AnyKind, bytes: Uint8Array): Decoded {
  return isControlKind(kind) ? decodeControl(kind, bytes) : decode(kind as MessageKind, bytes);
}

interface Pending {
  readonly request: string;
  readonly kind: AnyKind;
  /** Control replies come in chunks, then an empty message. */
  readonly chunked: boolean;
  chunks: Uint8Array[];
  bytes: number;
}

/** JSON that survives msgpack's binary values and bigints. */
function json(value: unknown): string {
  try {
    return JSON.stringify(value, (_k, v: unknown) =>
      typeof v === 'bigint'
        ? v.toString()
        : v instanceof Uint8Array
          ? { base64: Buffer.from(v).toString('base64') }
          : v,
    );
  } catch (err) {
    return JSON.stringify({ error: `cannot print: ${(err as Error).message}` });
  }
}

/**
 * Turns the messages of an Entropy bus into JSON lines: requests and publications decoded by their
 * subject, replies by the request they answer (paired through the reply subject; a control reply's
 * chunks joined), a reply whose request was not seen by its shape. Pure and bounded: at most
 * `maxPending` requests wait for a reply and `maxChunkBytes` of chunks are held.
 */
export class Watcher {
  private readonly s;
  private readonly inboxes: readonly string[];
  private readonly pending = new Map<string, Pending>();
  /** --raw: the requests' reply subjects, to the request subject (kept until the oldest are forgotten). */
  private readonly rawReplies = new Map<string, string>();
  private chunkBytes = 0;

  constructor(private readonly options: WatcherOptions = {}) {
    this.s = subjectsOf(options.prefix);
    this.inboxes = (options.inboxPrefixes ?? [DEFAULT_INBOX_PREFIX]).map((p) => `${p}.`);
  }

  isReplySubject(subject: string): boolean {
    return this.inboxes.some((p) => subject.startsWith(p));
  }

  /** The lines to print for one message: none (a chunk that waits for the rest), one, or a few. */
  receive(m: WatchMessage): string[] {
    if (this.options.raw) return this.rawReceive(m);
    if (this.pending.has(m.subject)) return this.reply(m, this.pending.get(m.subject)!);
    if (this.isReplySubject(m.subject)) return this.options.unpairedReplies !== false ? [this.unpairedReply(m)] : [];
    return [this.request(m)];
  }

  private request(m: WatchMessage): string {
    const replyTo = m.reply ? { reply: m.reply } : {};
    const journal = `${this.s.prefix}.journal.`;
    if (m.subject.startsWith(journal)) return this.journalLine(m);
    const parsed = this.s.parse(m.subject);
    if (!parsed) return json({ subject: m.subject, ...replyTo, bytes: m.data.length });
    let kind: AnyKind;
    let replyKind: AnyKind | undefined;
    if (parsed.kind === 'control') {
      kind = `${parsed.verb}Request` as ControlKind;
      replyKind = `${parsed.verb as ControlVerb}Reply` as ControlKind;
    } else [kind, replyKind] = NODE_KINDS[parsed.kind];
    if (m.reply && replyKind)
      this.await(m.reply, {
        request: m.subject,
        kind: replyKind,
        chunked: parsed.kind === 'control',
        chunks: [],
        bytes: 0,
      });
    return this.decodedLine({ subject: m.subject, kind, ...replyTo }, decodeAs(kind, m.data));
  }

  private reply(m: WatchMessage, p: Pending): string[] {
    const base = { subject: m.subject, kind: p.kind, inReplyTo: p.request };
    if (!p.chunked) {
      this.pending.delete(m.subject);
      return [this.decodedLine(base, decodeAs(p.kind, m.data))];
    }
    if (m.data.length > 0) {
      if (this.chunkBytes + m.data.length > (this.options.maxChunkBytes ?? DEFAULT_MAX_CHUNK_BYTES)) {
        this.forget(m.subject);
        return [
          json({
            ...base,
            error: {
              code: ProtocolErrorCode.TooLarge,
              field: '$',
              reason: `chunks past ${this.options.maxChunkBytes ?? DEFAULT_MAX_CHUNK_BYTES} bytes held: not shown`,
            },
          }),
        ];
      }
      p.chunks.push(m.data);
      p.bytes += m.data.length;
      this.chunkBytes += m.data.length;
      return [];
    }
    const chunks = p.chunks;
    this.forget(m.subject);
    const whole = new Uint8Array(p.bytes);
    let at = 0;
    for (const c of chunks) whole.set(c, at), (at += c.length);
    return [this.decodedLine({ ...base, chunks: chunks.length }, decodeAs(p.kind, whole))];
  }

  private unpairedReply(m: WatchMessage): string {
    if (m.data.length === 0) return json({ subject: m.subject, bytes: 0 });
    let first: Decoded | undefined;
    for (const kind of REPLY_SHAPES) {
      const r = decodeAs(kind, m.data);
      if (r.ok) return json({ subject: m.subject, kind, guessed: true, msg: r.msg });
      first ??= r;
    }
    // Not a whole reply of any kind: a chunk of a longer one, or not Entropy's.
    return json({
      subject: m.subject,
      bytes: m.data.length,
      error:
        first && !first.ok && first.error.code !== ProtocolErrorCode.InvalidMessage
          ? first.error
          : { code: ProtocolErrorCode.InvalidMessage, field: '$', reason: 'no reply kind has this shape' },
    });
  }

  private journalLine(m: WatchMessage): string {
    if (m.data.length > MAX_MESSAGE_BYTES)
      return json({
        subject: m.subject,
        kind: 'journal',
        bytes: m.data.length,
        error: { code: ProtocolErrorCode.TooLarge, field: '$', reason: 'too large to show' },
      });
    try {
      return json({
        subject: m.subject,
        kind: 'journal',
        msg: JSON.parse(Buffer.from(m.data).toString('utf8')) as unknown,
      });
    } catch (err) {
      return json({
        subject: m.subject,
        kind: 'journal',
        bytes: m.data.length,
        error: { code: ProtocolErrorCode.Decode, field: '$', reason: `not JSON: ${(err as Error).message}` },
      });
    }
  }

  private rawReceive(m: WatchMessage): string[] {
    const inReplyTo = this.rawReplies.get(m.subject);
    if (inReplyTo === undefined && this.isReplySubject(m.subject) && this.options.unpairedReplies === false) return [];
    if (m.reply) {
      this.rawReplies.delete(m.reply);
      this.rawReplies.set(m.reply, m.subject);
      this.trim(this.rawReplies);
    }
    return [this.rawLine(m, inReplyTo)];
  }

  private rawLine(m: WatchMessage, inReplyTo: string | undefined): string {
    const head = {
      subject: m.subject,
      ...(m.reply ? { reply: m.reply } : {}),
      ...(inReplyTo ? { inReplyTo } : {}),
      bytes: m.data.length,
    };
    if (m.data.length === 0 || m.data.length > MAX_MESSAGE_BYTES) return json(head);
    try {
      return json({ ...head, value: unpackRaw(m.data) });
    } catch {
      return json({ ...head, base64: Buffer.from(m.data).toString('base64') });
    }
  }

  private decodedLine(base: object, r: Decoded): string {
    return json(r.ok ? { ...base, msg: r.msg } : { ...base, error: r.error });
  }

  private await(reply: string, p: Pending): void {
    this.forget(reply);
    this.pending.set(reply, p);
    this.trim(this.pending, (oldest) => this.forget(oldest));
  }

  /** Forgets the oldest entries past `maxPending`. */
  private trim(map: Map<string, unknown>, forget: (key: string) => void = (key) => map.delete(key)): void {
    const max = this.options.maxPending ?? DEFAULT_MAX_PENDING_REPLIES;
    for (const oldest of map.keys()) {
      if (map.size <= max) break;
      forget(oldest);
    }
  }

  private forget(reply: string): void {
    const p = this.pending.get(reply);
    if (!p) return;
    this.chunkBytes -= p.bytes;
    this.pending.delete(reply);
  }
}
