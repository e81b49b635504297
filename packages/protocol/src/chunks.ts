/**
 * Control replies travel in chunks: the encoded reply cut into pieces that each fit in the
 * server's max_payload (1 MiB by default; the status of 100,000 VMs is 7 MiB), sent in order to
 * the request's reply subject, then one empty message, the sentinel, that says the reply is whole.
 * A small reply is one chunk and the sentinel, so that a client reads one format (nats.js:
 * `requestMany(subject, data, { strategy: 'sentinel' })`). A chunk is never empty. Pure: the
 * NATS side is the controller's nats-connect.ts.
 */

/** Ends a chunked reply. */
export const REPLY_SENTINEL: Uint8Array = new Uint8Array(0);

/** Room left below max_payload in each chunk, for whatever the server counts beside the payload (headers). */
export const CHUNK_MARGIN_BYTES = 1024;

/** The largest chunk for a server's max_payload: the margin below it, and at least one byte. */
export function chunkSizeFor(maxPayload: number): number {
  if (!Number.isInteger(maxPayload) || maxPayload < 1)
    throw new RangeError(`max_payload must be a positive integer, got ${maxPayload}`);
  return Math.max(1, maxPayload - CHUNK_MARGIN_BYTES);
}

/** Cuts an encoded reply into chunks of at most `chunkSize` bytes, views of `bytes` in order; none for an empty reply. */
export function splitReply(bytes: Uint8Array, chunkSize: number): Uint8Array[] {
  if (!Number.isInteger(chunkSize) || chunkSize < 1)
    throw new RangeError(`chunkSize must be a positive integer, got ${chunkSize}`);
  const chunks: Uint8Array[] = [];
  for (let at = 0; at < bytes.length; at += chunkSize)
    chunks.push(bytes.subarray(at, Math.min(bytes.length, at + chunkSize)));
  return chunks;
}

/** The reply the chunks were cut from; one chunk is returned as is. */
export function joinReply(chunks: readonly Uint8Array[]): Uint8Array {
  if (chunks.length === 1) return chunks[0]!;
  let length = 0;
  for (const c of chunks) length += c.length;
  const bytes = new Uint8Array(length);
  let at = 0;
  for (const c of chunks) {
    bytes.set(c, at);
    at += c.length;
  }
  return bytes;
}
