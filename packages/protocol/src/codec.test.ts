import fc from 'fast-check';
import { pack, unpack } from 'msgpackr';
import { describe, expect, it } from 'vitest';
import {
  decode,
  encode,
  MAX_MESSAGE_BYTES,
  MESSAGE_KINDS,
  type MessageKind,
  type MessageOf,
  PROTOCOL_VERSION,
} from './codec.ts';
import { executingNode } from './messages.ts';

const SAMPLES: { [K in MessageKind]: MessageOf<K> } = {
  status: {
    node: 'n1',
    seq: 3,
    ts: 1_700_000_000_000,
    driver: 'sim',
    capacity: { cpu: 4, mem: 8192, gpu: 1 },
    vms: [
      { id: 'v1', vjob: 'j1', state: 'running', host: 'n1', cpu: 0.5, mem: 512, demand: { cpu: 1, mem: 512, gpu: 1 } },
      { id: 'v2', state: 'sleeping', host: 'n1' },
    ],
    inFlight: 1,
    actions: [{ actionId: 'p1:a3', type: 'migrate', vm: 'v1' }],
  },
  hello: { node: 'n1', driver: 'xl', capacity: { cpu: 4, mem: 8192 }, startedAt: 1, pid: 42 },
  helloAck: { node: 'n1', by: 'controller', ts: 2 },
  actionRequest: {
    actionId: 'p1:a3',
    planId: 'p1',
    type: 'migrate',
    vm: 'v1',
    vjob: 'j1',
    demand: { cpu: 1, mem: 1024 },
    from: 'n1',
    to: 'n2',
    estimatedMs: 1024,
    timeoutMs: 10_000,
    token: 7,
  },
  actionResult: {
    actionId: 'p1:a3',
    node: 'n1',
    ok: false,
    error: { code: 'ENTROPY_DRIVER_FAILED', message: 'xl migrate exited with status 1' },
    durationMs: 12.5,
    state: 'running',
    host: 'n1',
    final: false,
  },
  progress: {
    planId: 'p1',
    kind: 'action-done',
    ts: 3,
    actionId: 'a1',
    step: 0,
    counts: { total: 4, done: 1, failed: 0, running: 2 },
  },
  ledgerQuery: { actionIds: ['p1:a3', 'p1:a4'] },
  ledgerReply: {
    node: 'n1',
    entries: [
      {
        actionId: 'p1:a3',
        status: 'interrupted',
        result: {
          actionId: 'p1:a3',
          node: 'n1',
          ok: false,
          error: { code: 'ENTROPY_INTERRUPTED', message: 'restarted' },
          durationMs: 0,
          final: true,
        },
      },
      { actionId: 'p1:a4', status: 'unknown' },
    ],
  },
  vmMeta: { vms: [{ vm: 'v1', vjob: 'j1', demand: { cpu: 1, mem: 1024 } }], token: 3 },
  vmMetaAck: { node: 'n1', updated: 1 },
  powerRequest: { actionId: 'p1:a9', planId: 'p1', type: 'shutdownNode', timeoutMs: 60_000, token: 7 },
  powerReply: {
    actionId: 'p1:a9',
    node: 'n3',
    ok: false,
    error: { code: 'ENTROPY_NODE_NOT_EMPTY', message: 'n3 holds v1' },
    durationMs: 2,
    final: true,
  },
  simLinkRequest: {
    op: 'migrate-commit',
    vm: 'v1',
    demand: { cpu: 1, mem: 1024 },
    from: 'n1',
    to: 'n2',
    state: 'paused',
    timeoutMs: 5000,
  },
  simLinkReply: { ok: true },
};

/** For each kind: a field to break and the path the error must name. */
const BREAKS: { [K in MessageKind]: [string, (m: Record<string, unknown>) => void] } = {
  status: ['$.vms[1].state', (m) => ((m.vms as Record<string, unknown>[])[1].state = 'dancing')],
  hello: ['$.node', (m) => (m.node = 'n.1')],
  helloAck: ['$.ts', (m) => delete m.ts],
  actionRequest: ['$.to', (m) => delete m.to],
  actionResult: ['$.error', (m) => delete m.error],
  progress: ['$.counts.done', (m) => ((m.counts as Record<string, unknown>).done = -1)],
  ledgerQuery: ['$.actionIds[0]', (m) => ((m.actionIds as unknown[])[0] = 'a b')],
  ledgerReply: ['$.entries[1].status', (m) => ((m.entries as Record<string, unknown>[])[1].status = 'lost')],
  vmMeta: ['$.token', (m) => (m.token = -1)],
  vmMetaAck: ['$.updated', (m) => (m.updated = 0.5)],
  powerRequest: ['$.type', (m) => (m.type = 'bootNode')],
  powerReply: ['$.error', (m) => delete m.error],
  simLinkRequest: ['$.op', (m) => (m.op = 'teleport')],
  simLinkReply: ['$.ok', (m) => (m.ok = 'yes')],
};

describe('codec', () => {
  it.each(MESSAGE_KINDS)('round-trips a %s message', (kind) => {
    const bytes = encode(kind, SAMPLES[kind] as never);
    expect(decode(kind, bytes)).toEqual({ ok: true, msg: SAMPLES[kind] });
  });

  it('writes the protocol version into every message', () => {
    for (const kind of MESSAGE_KINDS) {
      expect((unpack(encode(kind, SAMPLES[kind] as never)) as { v: number }).v).toBe(PROTOCOL_VERSION);
    }
  });

  it.each(MESSAGE_KINDS)('rejects a malformed %s message and names the field', (kind) => {
    const [field, breakIt] = BREAKS[kind];
    const raw = structuredClone(SAMPLES[kind]) as Record<string, unknown>;
    breakIt(raw);
    const r = decode(kind, pack({ v: PROTOCOL_VERSION, ...raw }));
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.error.code).toBe('ENTROPY_INVALID_MESSAGE');
      expect(r.error.field).toBe(field);
    }
  });

  it.each([[undefined], [0], [2], ['1']])('rejects protocol version %j', (v) => {
    const r = decode('status', pack({ ...SAMPLES.status, v }));
    expect(r).toMatchObject({ ok: false, error: { code: 'ENTROPY_PROTOCOL_VERSION', field: '$.v' } });
  });

  it('rejects bytes that are not a msgpack map', () => {
    expect(decode('hello', new Uint8Array())).toMatchObject({ ok: false, error: { code: 'ENTROPY_DECODE' } });
    expect(decode('hello', pack([1, 2]))).toMatchObject({
      ok: false,
      error: { code: 'ENTROPY_INVALID_MESSAGE', field: '$' },
    });
    expect(decode('hello', new TextEncoder().encode('{"node":"n1"}'))).toMatchObject({ ok: false });
  });

  it('requires from and to where the action type needs them', () => {
    const run = { ...SAMPLES.actionRequest, type: 'run', from: undefined };
    expect(decode('actionRequest', pack({ v: 1, ...run, to: undefined }))).toMatchObject({
      ok: false,
      error: { field: '$.to' },
    });
    expect(
      decode('actionRequest', pack({ v: 1, ...SAMPLES.actionRequest, type: 'pause', from: undefined })),
    ).toMatchObject({
      ok: false,
      error: { field: '$.from' },
    });
    expect(decode('actionRequest', pack({ v: 1, ...SAMPLES.actionRequest, to: 'n1' }))).toMatchObject({
      ok: false,
      error: { field: '$.to' },
    });
  });

  it('accepts the messages of an older peer: no token, no final, no in-flight actions', () => {
    const { token: _t, ...request } = SAMPLES.actionRequest;
    const { final: _f, ...result } = SAMPLES.actionResult;
    const { actions: _a, ...status } = SAMPLES.status;
    expect(decode('actionRequest', encode('actionRequest', request)).ok).toBe(true);
    expect(decode('actionResult', encode('actionResult', result)).ok).toBe(true);
    expect(decode('status', encode('status', status)).ok).toBe(true);
  });

  it('carries the node of a node power action in a progress message, and accepts one without', () => {
    const withNode = { ...SAMPLES.progress, actionId: 'p1:a9', node: 'n3' };
    expect(decode('progress', encode('progress', withNode))).toEqual({ ok: true, msg: withNode });
    expect(decode('progress', pack({ v: 1, ...withNode, node: 'n.3' }))).toMatchObject({
      ok: false,
      error: { field: '$.node' },
    });
  });

  it('bounds a ledger query to 10,000 ids', () => {
    const ids = Array.from({ length: 10_001 }, (_, i) => `a${i}`);
    expect(decode('ledgerQuery', pack({ v: 1, actionIds: ids }))).toMatchObject({
      ok: false,
      error: { field: '$.actionIds' },
    });
    expect(decode('ledgerQuery', pack({ v: 1, actionIds: ids.slice(1) })).ok).toBe(true);
  });

  it('refuses a message past the size limit before decoding it, with its own code', () => {
    const big = pack({ v: 1, ...SAMPLES.hello, driver: 'x'.repeat(2000) });
    expect(decode('hello', big, 1024)).toMatchObject({
      ok: false,
      error: { code: 'ENTROPY_MESSAGE_TOO_LARGE', field: '$' },
    });
    expect(decode('hello', new Uint8Array(MAX_MESSAGE_BYTES + 1))).toMatchObject({
      ok: false,
      error: { code: 'ENTROPY_MESSAGE_TOO_LARGE' },
    });
  });

  it('refuses a vjob id that could break a command line, in action requests, statuses and VM metadata', () => {
    for (const vjob of ["x'; rm -rf / #", '-rf', 'a b', 'a/b', '', 'x'.repeat(129)]) {
      expect(decode('actionRequest', pack({ v: 1, ...SAMPLES.actionRequest, vjob }))).toMatchObject({
        ok: false,
        error: { field: '$.vjob' },
      });
      expect(decode('vmMeta', pack({ v: 1, vms: [{ vm: 'v1', vjob, demand: { cpu: 1, mem: 1 } }] }))).toMatchObject({
        ok: false,
        error: { field: '$.vms[0].vjob' },
      });
    }
    const status = { ...SAMPLES.status, vms: [{ id: 'v1', vjob: '$(reboot)', state: 'running', host: 'n1' }] };
    expect(decode('status', pack({ v: 1, ...status }))).toMatchObject({ ok: false, error: { field: '$.vms[0].vjob' } });
  });

  it("carries the executor's nonce in a request and its echo in the result; both optional, both checked", () => {
    expect(
      decode('actionRequest', encode('actionRequest', { ...SAMPLES.actionRequest, nonce: 'Zq3-x_0123456789' })),
    ).toMatchObject({ ok: true, msg: { nonce: 'Zq3-x_0123456789' } });
    expect(
      decode('actionResult', encode('actionResult', { ...SAMPLES.actionResult, nonce: 'Zq3-x_0123456789' })),
    ).toMatchObject({ ok: true, msg: { nonce: 'Zq3-x_0123456789' } });
    expect(decode('actionRequest', pack({ v: 1, ...SAMPLES.actionRequest, nonce: 'short' }))).toMatchObject({
      ok: false,
      error: { field: '$.nonce' },
    });
  });

  it('refuses to encode an invalid message', () => {
    expect(() => encode('hello', { ...SAMPLES.hello, node: 'a b' })).toThrow(/\$\.node/);
  });

  it('never throws on random bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 256 }), fc.constantFrom(...MESSAGE_KINDS), (bytes, kind) => {
        const r = decode(kind, bytes);
        expect(typeof r.ok).toBe('boolean');
      }),
      { numRuns: 3000 },
    );
  });

  it('never throws on random msgpack values', () => {
    fc.assert(
      fc.property(fc.anything(), fc.constantFrom(...MESSAGE_KINDS), (value, kind) => {
        let bytes: Uint8Array;
        try {
          bytes = pack(value);
        } catch {
          return;
        }
        expect(decode(kind, bytes).ok).toBe(false);
      }),
      { numRuns: 1000 },
    );
  });

  it('names the node that executes each action type', () => {
    expect(executingNode({ type: 'run', to: 'n2' })).toBe('n2');
    expect(executingNode({ type: 'resume', from: 'n1', to: 'n2' })).toBe('n2');
    expect(executingNode({ type: 'migrate', from: 'n1', to: 'n2' })).toBe('n1');
    expect(executingNode({ type: 'pause', from: 'n1' })).toBe('n1');
  });
});
