import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CHUNK_MARGIN_BYTES, chunkSizeFor, joinReply, splitReply } from './chunks.ts';
import { decodeControl, encodeControl } from './control.ts';

const bytes = (n: number) => Uint8Array.from({ length: n }, (_, i) => i % 251);

describe('reply chunks', () => {
  it('joins what it splits, in chunks of at most the size and never empty', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), fc.integer({ min: 1, max: 64 }), (reply, size) => {
        const chunks = splitReply(reply, size);
        expect(chunks).toHaveLength(Math.ceil(reply.length / size));
        for (const c of chunks) expect(c.length >= 1 && c.length <= size).toBe(true);
        expect(joinReply(chunks)).toEqual(reply);
      }),
      { numRuns: 500, seed: 3 },
    );
  });

  it('sends a reply of exactly the chunk size as one chunk, and one byte more as two', () => {
    expect(splitReply(bytes(1000), 1000)).toEqual([bytes(1000)]);
    const two = splitReply(bytes(1001), 1000);
    expect(two.map((c) => c.length)).toEqual([1000, 1]);
    expect(joinReply(two)).toEqual(bytes(1001));
  });

  it('has no chunk for an empty reply, and joins no chunk into an empty reply', () => {
    expect(splitReply(new Uint8Array(0), 10)).toEqual([]);
    expect(joinReply([])).toEqual(new Uint8Array(0));
  });

  it('keeps a margin below max_payload and refuses sizes that are not positive integers', () => {
    expect(chunkSizeFor(1024 * 1024)).toBe(1024 * 1024 - CHUNK_MARGIN_BYTES);
    expect(chunkSizeFor(100)).toBe(1);
    expect(() => chunkSizeFor(0)).toThrow(/max_payload must be a positive integer, got 0/);
    expect(() => splitReply(bytes(3), 0)).toThrow(RangeError);
    expect(() => splitReply(bytes(3), 1.5)).toThrow(/chunkSize must be a positive integer, got 1.5/);
  });

  it('carries an encoded control reply of several MiB whole', () => {
    const vms = Array.from({ length: 40_000 }, (_, i) => ({
      id: `vm-${i}`,
      vjob: `j${i % 97}`,
      state: 'running' as const,
      host: `n${i % 500}`,
      demand: { cpu: 1, mem: 1024 },
    }));
    const reply = encodeControl('statusReply', { controller: 'c', ts: 1, nodes: [], vms, excluded: [] });
    const chunks = splitReply(reply, chunkSizeFor(1024 * 1024));
    expect(chunks.length).toBeGreaterThan(1);
    const decoded = decodeControl('statusReply', joinReply(chunks));
    expect(decoded.ok && decoded.msg.vms).toHaveLength(40_000);
  });
});
