import { Packr } from 'msgpackr';
import type * as z from 'zod';
import { ProtocolError, ProtocolErrorCode } from './errors.ts';
import {
  actionRequestSchema,
  actionResultSchema,
  helloAckSchema,
  helloSchema,
  ledgerQuerySchema,
  ledgerReplySchema,
  nodeStatusSchema,
  planProgressSchema,
  powerReplySchema,
  powerRequestSchema,
  simLinkReplySchema,
  simLinkRequestSchema,
  vmMetaAckSchema,
  vmMetaSchema,
} from './messages.ts';

export const PROTOCOL_VERSION = 1;

/**
 * The largest message a receiver decodes (8 MiB, eight times nats-server's default max_payload):
 * larger bytes are refused before msgpack reads them, so a flood of big messages costs no decoding.
 */
export const MAX_MESSAGE_BYTES = 8 * 1024 * 1024;
/** The largest control reply once its chunks are joined (the status of 100,000 VMs is 7 MiB). */
export const MAX_CONTROL_REPLY_BYTES = 256 * 1024 * 1024;

/** Every message kind and its schema; `decode` and `encode` take the kind the subject implies. */
export const MESSAGE_SCHEMAS = {
  status: nodeStatusSchema,
  hello: helloSchema,
  helloAck: helloAckSchema,
  actionRequest: actionRequestSchema,
  actionResult: actionResultSchema,
  progress: planProgressSchema,
  ledgerQuery: ledgerQuerySchema,
  ledgerReply: ledgerReplySchema,
  vmMeta: vmMetaSchema,
  vmMetaAck: vmMetaAckSchema,
  powerRequest: powerRequestSchema,
  powerReply: powerReplySchema,
  simLinkRequest: simLinkRequestSchema,
  simLinkReply: simLinkReplySchema,
} as const;
export type MessageKind = keyof typeof MESSAGE_SCHEMAS;
export const MESSAGE_KINDS = Object.keys(MESSAGE_SCHEMAS) as MessageKind[];
export type MessageOf<K extends MessageKind> = z.infer<(typeof MESSAGE_SCHEMAS)[K]>;

export interface DecodeError {
  readonly code: ProtocolErrorCode;
  /** JSON path of the offending field: `$` for the whole message, `$.vms[0].state` for a nested one. */
  readonly field: string;
  readonly reason: string;
}
export type DecodeResult<T> =
  | { readonly ok: true; readonly msg: T }
  | { readonly ok: false; readonly error: DecodeError };

// Plain maps, no record extension: any msgpack implementation can read what Entropy writes.
const packr = new Packr({ useRecords: false, mapsAsObjects: true, moreTypes: false });

function fieldOf(path: readonly PropertyKey[]): string {
  let out = '$';
  for (const s of path) out += typeof s === 'number' ? `[${s}]` : `.${String(s)}`;
  return out;
}

function isPlainMap(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/** Validates a message and packs it with the protocol version. Throws on an invalid message: that is a bug of the sender. */
export function encode<K extends MessageKind>(kind: K, msg: MessageOf<K>): Uint8Array {
  return encodeWith(MESSAGE_SCHEMAS[kind], kind, msg);
}

/**
 * Packs a message built from typed values without validating it first: for the periodic and
 * per-action publications (status, progress), where validation cost the agent a seventh of its
 * time per action. Every receiver validates every message anyway.
 */
export function encodeTyped<K extends MessageKind>(msg: MessageOf<K>): Uint8Array {
  return packr.pack({ v: PROTOCOL_VERSION, ...(msg as object) });
}

/** Unpacks and validates a message of the given kind. Never throws: bad input is a value. */
export function decode<K extends MessageKind>(
  kind: K,
  bytes: Uint8Array,
  maxBytes: number = MAX_MESSAGE_BYTES,
): DecodeResult<MessageOf<K>> {
  return decodeWith(MESSAGE_SCHEMAS[kind], bytes, maxBytes) as DecodeResult<MessageOf<K>>;
}

/** The value msgpack gives, unvalidated (entropy-watch --raw); throws on bytes that are not msgpack. */
export function unpackRaw(bytes: Uint8Array): unknown {
  return packr.unpack(bytes);
}

/** `encode` for any schema of the protocol (the control messages use it too). */
export function encodeWith(schema: z.ZodType, kind: string, msg: unknown): Uint8Array {
  const parsed = schema.safeParse(msg);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const field = fieldOf(issue?.path ?? []);
    throw new ProtocolError(
      ProtocolErrorCode.InvalidMessage,
      field,
      `cannot encode ${kind}: ${field}: ${issue?.message}`,
    );
  }
  return packr.pack({ v: PROTOCOL_VERSION, ...(parsed.data as object) });
}

/** `decode` for any schema of the protocol. Never throws. */
export function decodeWith(
  schema: z.ZodType,
  bytes: Uint8Array,
  maxBytes: number = MAX_MESSAGE_BYTES,
): DecodeResult<unknown> {
  if (bytes instanceof Uint8Array && bytes.length > maxBytes) {
    return {
      ok: false,
      error: {
        code: ProtocolErrorCode.TooLarge,
        field: '$',
        reason: `${bytes.length} bytes, more than the ${maxBytes} taken`,
      },
    };
  }
  let value: unknown;
  try {
    if (!(bytes instanceof Uint8Array) || bytes.length === 0) throw new Error('empty or not bytes');
    value = packr.unpack(bytes);
  } catch (err) {
    return {
      ok: false,
      error: {
        code: ProtocolErrorCode.Decode,
        field: '$',
        reason: `not msgpack: ${(err as Error)?.message ?? String(err)}`,
      },
    };
  }
  if (!isPlainMap(value)) {
    return {
      ok: false,
      error: { code: ProtocolErrorCode.InvalidMessage, field: '$', reason: `must be a map, got ${describe(value)}` },
    };
  }
  const { v, ...rest } = value;
  if (v !== PROTOCOL_VERSION) {
    return {
      ok: false,
      error: {
        code: ProtocolErrorCode.ProtocolVersion,
        field: '$.v',
        reason: `expected protocol version ${PROTOCOL_VERSION}, got ${describe(v)}`,
      },
    };
  }
  const parsed = schema.safeParse(rest);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    return {
      ok: false,
      error: {
        code: ProtocolErrorCode.InvalidMessage,
        field: fieldOf(issue?.path ?? []),
        reason: issue?.message ?? 'invalid',
      },
    };
  }
  return { ok: true, msg: parsed.data };
}

function describe(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object')
    return `an object (${Object.getPrototypeOf(value)?.constructor?.name ?? 'no prototype'})`;
  try {
    return `${typeof value} ${JSON.stringify(value) ?? String(value)}`.slice(0, 80);
  } catch {
    return typeof value;
  }
}
