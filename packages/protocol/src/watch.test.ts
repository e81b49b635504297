import { describe, expect, it } from 'vitest';
import { REPLY_SENTINEL, splitReply } from './chunks.ts';
import { encode } from './codec.ts';
import { encodeControl } from './control.ts';
import { Watcher, type WatchMessage } from './watch.ts';

const lines = (w: Watcher, messages: readonly WatchMessage[]) =>
  messages.flatMap((m) => w.receive(m)).map((l) => JSON.parse(l) as Record<string, unknown>);
const result = { actionId: 'p1:a1', node: 'n2', ok: true, state: 'running', durationMs: 5 } as const;
const actionRequest = {
  actionId: 'p1:a1',
  planId: 'p1',
  type: 'run',
  vm: 'v1',
  vjob: 'j1',
  demand: { cpu: 1, mem: 512 },
  to: 'n2',
  estimatedMs: 10,
  timeoutMs: 1000,
} as const;

describe('Watcher', () => {
  it('decodes requests and publications by subject, and bad ones with their error', () => {
    const out = lines(new Watcher(), [
      {
        subject: 'entropy.node.n1.hello',
        reply: '_INBOX.x.1',
        data: encode('hello', { node: 'n1', driver: 'sim', capacity: { cpu: 1 }, startedAt: 5 }),
      },
      { subject: 'entropy.node.n1.status', data: new Uint8Array([0x82]) },
      { subject: 'entropy.node.n1.ledger', data: encode('ledgerQuery', { actionIds: ['a1'] }) },
      { subject: 'entropy.control.cancel', data: encodeControl('cancelRequest', { id: 'j1' }) },
      { subject: 'entropy.journal.p1', data: new TextEncoder().encode('{"type":"end","planId":"p1"}') },
      { subject: 'entropy.something.else', data: new Uint8Array(3) },
    ]);
    expect(out).toEqual([
      {
        subject: 'entropy.node.n1.hello',
        kind: 'hello',
        reply: '_INBOX.x.1',
        msg: { node: 'n1', driver: 'sim', capacity: { cpu: 1 }, startedAt: 5 },
      },
      {
        subject: 'entropy.node.n1.status',
        kind: 'status',
        error: expect.objectContaining({ code: 'ENTROPY_DECODE', field: '$' }),
      },
      { subject: 'entropy.node.n1.ledger', kind: 'ledgerQuery', msg: { actionIds: ['a1'] } },
      { subject: 'entropy.control.cancel', kind: 'cancelRequest', msg: { id: 'j1' } },
      { subject: 'entropy.journal.p1', kind: 'journal', msg: { type: 'end', planId: 'p1' } },
      { subject: 'entropy.something.else', bytes: 3 },
    ]);
  });

  it('decodes a reply as the answer to the request it saw, and joins a control reply from its chunks', () => {
    const w = new Watcher();
    const queue = encodeControl('queueReply', { ok: true, controller: 'c', ts: 1, store: 'memory', vjobs: [] });
    const out = lines(w, [
      { subject: 'entropy.node.n2.action', reply: '_INBOX.y.7', data: encode('actionRequest', actionRequest) },
      { subject: '_INBOX.y.7', data: encode('actionResult', result) },
      { subject: 'entropy.control.queue', reply: '_INBOX.q', data: encodeControl('queueRequest', {}) },
      ...splitReply(queue, 7).map((data) => ({ subject: '_INBOX.q', data })),
      { subject: '_INBOX.q', data: REPLY_SENTINEL },
    ]);
    expect(out.slice(1)).toEqual([
      { subject: '_INBOX.y.7', kind: 'actionResult', inReplyTo: 'entropy.node.n2.action', msg: result },
      { subject: 'entropy.control.queue', kind: 'queueRequest', reply: '_INBOX.q', msg: {} },
      {
        subject: '_INBOX.q',
        kind: 'queueReply',
        inReplyTo: 'entropy.control.queue',
        chunks: Math.ceil(queue.length / 7),
        msg: { ok: true, controller: 'c', ts: 1, store: 'memory', vjobs: [] },
      },
    ]);
  });

  it('guesses the kind of a reply whose request it did not see, or hides it when told to', () => {
    const reply = { subject: '_INBOX.z.1', data: encode('helloAck', { node: 'n1', by: 'c', ts: 2 }) };
    expect(lines(new Watcher(), [reply])).toEqual([
      { subject: '_INBOX.z.1', kind: 'helloAck', guessed: true, msg: { node: 'n1', by: 'c', ts: 2 } },
    ]);
    expect(lines(new Watcher({ unpairedReplies: false }), [reply])).toEqual([]);
    expect(lines(new Watcher(), [{ subject: '_INBOX.z.2', data: new Uint8Array([0x82]) }])).toEqual([
      { subject: '_INBOX.z.2', bytes: 1, error: expect.objectContaining({ code: 'ENTROPY_DECODE' }) },
    ]);
    // another inbox prefix, as a client's inboxPrefix gives
    expect(
      lines(new Watcher({ inboxPrefixes: ['_INBOX_n1'] }), [{ ...reply, subject: '_INBOX_n1.a' }])[0],
    ).toMatchObject({ kind: 'helloAck', guessed: true });
  });

  it('holds a bounded number of requests and bytes of chunks', () => {
    const w = new Watcher({ maxPending: 2, maxChunkBytes: 10 });
    const request = (i: number): WatchMessage => ({
      subject: 'entropy.control.status',
      reply: `_INBOX.${i}`,
      data: encodeControl('statusRequest', {}),
    });
    lines(w, [request(1), request(2), request(3)]);
    // the oldest was forgotten: its reply is a reply nobody asked for
    expect(lines(w, [{ subject: '_INBOX.1', data: REPLY_SENTINEL }])).toEqual([{ subject: '_INBOX.1', bytes: 0 }]);
    expect(lines(w, [{ subject: '_INBOX.2', data: new Uint8Array(8) }])).toEqual([]);
    expect(lines(w, [{ subject: '_INBOX.2', data: new Uint8Array(8) }])).toEqual([
      {
        subject: '_INBOX.2',
        kind: 'statusReply',
        inReplyTo: 'entropy.control.status',
        error: expect.objectContaining({ code: 'ENTROPY_MESSAGE_TOO_LARGE' }),
      },
    ]);
  });

  it('--raw: what msgpack gives, unvalidated, replies paired by subject', () => {
    const w = new Watcher({ raw: true, unpairedReplies: false });
    const out = lines(w, [
      { subject: 'entropy.node.n1.action', reply: '_INBOX.r', data: encode('actionRequest', actionRequest) },
      { subject: '_INBOX.r', data: new Uint8Array([0x81, 0xa1, 0x76, 0x09]) },
      { subject: '_INBOX.other', data: new Uint8Array([0x90]) },
      { subject: 'entropy.node.n1.status', data: new Uint8Array([0xc1, 0x00]) },
    ]);
    expect(out).toEqual([
      {
        subject: 'entropy.node.n1.action',
        reply: '_INBOX.r',
        bytes: expect.any(Number),
        value: { v: 1, ...actionRequest },
      },
      { subject: '_INBOX.r', inReplyTo: 'entropy.node.n1.action', bytes: 4, value: { v: 9 } },
      { subject: 'entropy.node.n1.status', bytes: 2, base64: 'wQA=' },
    ]);
  });
});
