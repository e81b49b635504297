import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { type ActionRequest, decode, encode, type Logger } from '@entropy/protocol';
import { describe, expect, it } from 'vitest';
import { actionRunner } from '../src/action-runner.ts';
import { DriverError, type HypervisorDriver } from '../src/drivers/driver.ts';
import { simDriver } from '../src/drivers/sim-driver.ts';
import { answerLedgerQuery, answerVmMeta } from '../src/node-requests.ts';
import { type AgentState, openAgentState } from '../src/state/agent-state.ts';
import { request } from './requests.ts';
import { tempDirPerTest } from './temp-dir.ts';

const silent: Logger = { info() {}, warn() {}, error() {}, debug() {} };

/** An agent's action path on a state directory, over a sim driver whose actions end only when `complete` lets them. */
function node(dir: string, over: { driver?: HypervisorDriver } = {}) {
  mkdirSync(dir, { recursive: true });
  const state: AgentState = openAgentState(dir, { node: 'n1', warn: () => {} });
  const waiting: (() => void)[] = [];
  const driver =
    over.driver ??
    simDriver({
      node: 'n1',
      capacity: { cpu: 4, mem: 4096 },
      stateDir: dir,
      sleep: () => new Promise<void>((r) => waiting.push(r)),
      peers: async () => ({ ok: true }),
    });
  const started: string[] = [];
  const logger: Logger = {
    ...silent,
    info: (obj, msg) => void (msg === 'action started' && started.push((obj as { actionId: string }).actionId)),
  };
  const run = actionRunner({ node: 'n1', driver, state, logger, stopping: () => false, ended: () => {} });
  const send = (req: ActionRequest) => run(encode('actionRequest', req));
  const finish = async () => {
    await new Promise((r) => setTimeout(r, 5));
    waiting.splice(0).forEach((r) => r());
  };
  return {
    state,
    started,
    send,
    /** Sends a request and lets its action end. */
    async complete(req: ActionRequest) {
      const result = send(req);
      await finish();
      return result;
    },
  };
}

const runReq = (over: Partial<ActionRequest> = {}) => request('run', { from: undefined, to: 'n1', ...over });

describe('agent action path', () => {
  const dir = tempDirPerTest('entropy-runner-');

  it("starts the driver call at the request's notBefore, and reports its start and end on the epoch clock; pauses of different VMs run at once", async () => {
    const calls: { vm: string; at: number }[] = [];
    const slow = (ms: number) => async (req: ActionRequest) => {
      calls.push({ vm: req.vm, at: performance.timeOrigin + performance.now() });
      await new Promise((r) => setTimeout(r, ms));
    };
    const driver = { name: 'test', list: async () => [], pause: slow(50) } as unknown as HypervisorDriver;
    const n = node(dir.path, { driver });
    const notBefore = performance.timeOrigin + performance.now() + 80;
    const t0 = performance.now();
    const results = await Promise.all(
      ['v1', 'v2', 'v3'].map((vm) => n.send(request('pause', { actionId: `p-${vm}`, vm, notBefore }))),
    );
    // Three pauses of 50 ms each in about 80 + 50 ms: concurrent, none before the deadline.
    expect(performance.now() - t0).toBeLessThan(400);
    for (const c of calls) expect(c.at).toBeGreaterThanOrEqual(notBefore - 1);
    for (const r of results) {
      expect(r).toMatchObject({ ok: true, state: 'paused' });
      expect(r.startedAt).toBeGreaterThanOrEqual(notBefore - 1);
      expect(r.endedAt! - r.startedAt!).toBeCloseTo(r.durationMs, 0);
      expect(r.durationMs).toBeGreaterThanOrEqual(45);
    }
  });

  it('refuses a request from a deposed leader without running it, and runs a newer one', async () => {
    const n = node(dir.path);
    expect(await n.complete(runReq({ actionId: 'a1', token: 5 }))).toMatchObject({ ok: true });
    const stale = await n.send(request('pause', { actionId: 'a2', token: 4 }));
    expect(stale).toMatchObject({ actionId: 'a2', ok: false, final: true, error: { code: 'ENTROPY_STALE_LEADER' } });
    expect(stale.error!.message).toMatch(/token 4 is older than 5/);
    expect(await n.complete(request('pause', { actionId: 'a3', token: 6 }))).toMatchObject({
      ok: true,
      state: 'paused',
    });
    expect(n.started).toEqual(['a1', 'a3']);
    // The stale id was never recorded: it is unknown to the ledger.
    expect(n.state.ledger.query(['a2'])[0]!.status).toBe('unknown');
  });

  it('answers a recorded id from the ledger whatever its token, and keeps the newest token across restarts', async () => {
    const n = node(dir.path);
    await n.complete(runReq({ actionId: 'a1', token: 1 }));
    await n.complete(request('pause', { actionId: 'a2', token: 9 }));
    expect(await n.send(runReq({ actionId: 'a1', token: 0 }))).toMatchObject({ ok: true, deduplicated: true });
    n.state.close();
    const restarted = node(dir.path);
    expect(await restarted.send(request('unpause', { actionId: 'a3', token: 8 }))).toMatchObject({
      error: { code: 'ENTROPY_STALE_LEADER' },
    });
  });

  it('never runs again an action the agent died during: ENTROPY_INTERRUPTED, and the VM as it was', async () => {
    const n = node(dir.path);
    await n.complete(runReq({ actionId: 'a1' }));
    void n.send(request('suspend', { actionId: 'a2' }));
    await new Promise((r) => setTimeout(r, 5));
    // kill -9: the suspend never ends; a new agent opens the same directory.
    const restarted = node(dir.path);
    const retry = await restarted.send(request('suspend', { actionId: 'a2' }));
    expect(retry).toMatchObject({
      actionId: 'a2',
      ok: false,
      final: true,
      deduplicated: true,
      error: { code: 'ENTROPY_INTERRUPTED' },
    });
    expect(restarted.started).toEqual([]);
    expect(restarted.state.ledger.query(['a1', 'a2']).map((e) => e.status)).toEqual(['done', 'interrupted']);
    expect(restarted.state.meta.get('v1')).toEqual({ vjob: 'j1', demand: { cpu: 1, mem: 512 } });
  });

  it('keeps VM metadata while the VM is on the node and drops it when it leaves; a failed action leaves it as it was', async () => {
    const n = node(dir.path);
    const failing = await n.send(request('pause', { vm: 'ghost', vjob: 'jg' }));
    expect(failing).toMatchObject({ ok: false, final: true, error: { code: 'ENTROPY_INVALID_STATE' } });
    expect(n.state.meta.get('ghost')).toBeUndefined();
    await n.complete(runReq({ actionId: 'a1', vjob: 'j7', demand: { cpu: 2, mem: 100 } }));
    expect(n.state.meta.get('v1')).toEqual({ vjob: 'j7', demand: { cpu: 2, mem: 100 } });
    expect(
      await n.complete(request('migrate', { actionId: 'a2', to: 'n2', vjob: 'j7', demand: { cpu: 2, mem: 100 } })),
    ).toMatchObject({ ok: true, state: 'running', host: 'n2' });
    expect(n.state.meta.get('v1')).toBeUndefined();
  });

  it('marks a failure final by its code, unless the driver says otherwise', async () => {
    const failWith = (err: Error): HypervisorDriver => ({
      name: 'fake',
      list: async () => [],
      run: async () => Promise.reject(err),
      stop: async () => {},
      suspend: async () => {},
      resume: async () => {},
      migrate: async () => ({ state: 'running' }),
      pause: async () => {},
      unpause: async () => {},
    });
    const final = async (err: Error, id: string) =>
      (await node(join(dir.path, id), { driver: failWith(err) }).send(runReq({ actionId: id }))).final;
    expect(await final(new DriverError('ENTROPY_DRIVER_FAILED', 'x'), 'a1')).toBe(false);
    expect(await final(new DriverError('ENTROPY_DRIVER_FAILED', 'x', { final: true }), 'a2')).toBe(true);
    expect(await final(new DriverError('ENTROPY_INVALID_STATE', 'x', { final: false }), 'a3')).toBe(false);
    expect(await final(new Error('boom'), 'a4')).toBe(false);
  });

  it('answers malformed, misdirected and reused requests with final refusals', async () => {
    const n = node(dir.path);
    await n.complete(runReq({ actionId: 'a1' }));
    expect(await n.send(request('pause', { from: 'n2' }))).toMatchObject({
      final: true,
      error: { code: 'ENTROPY_WRONG_NODE' },
    });
    expect(await n.send(request('pause', { actionId: 'a1' }))).toMatchObject({
      final: true,
      error: { code: 'ENTROPY_ACTION_ID_REUSED' },
    });
  });

  it("echoes the request's nonce in every answer: a result, a retry's answered from the ledger, a refusal", async () => {
    const n = node(dir.path);
    const nonce = 'plan-nonce-0123';
    expect(await n.complete(runReq({ actionId: 'a1', nonce }))).toMatchObject({ ok: true, nonce });
    expect(await n.send(runReq({ actionId: 'a1', nonce: 'retry-nonce-456' }))).toMatchObject({
      ok: true,
      deduplicated: true,
      nonce: 'retry-nonce-456',
    });
    expect(await n.send(request('pause', { from: 'n2', nonce }))).toMatchObject({ ok: false, nonce });
    expect((await n.complete(runReq({ actionId: 'a2', vm: 'v2' }))).nonce).toBeUndefined();
  });
});

describe('ledger and metadata requests', () => {
  const dir = tempDirPerTest('entropy-requests-');

  it('tells the status of each asked action id', async () => {
    const n = node(dir.path);
    await n.complete(runReq({ actionId: 'a1' }));
    void n.send(request('pause', { actionId: 'a2' }));
    const reply = decode(
      'ledgerReply',
      answerLedgerQuery('n1', n.state, encode('ledgerQuery', { actionIds: ['a1', 'a2', 'a3'] }), 1 << 20),
    );
    expect(reply.ok && reply.msg).toEqual({
      node: 'n1',
      entries: [
        { actionId: 'a1', status: 'done', result: expect.objectContaining({ ok: true, state: 'running' }) },
        { actionId: 'a2', status: 'running' },
        { actionId: 'a3', status: 'unknown' },
      ],
    });
  });

  it('refuses a malformed query, and one whose reply would not fit in a message', async () => {
    const n = node(dir.path);
    const bad = decode(
      'ledgerReply',
      answerLedgerQuery(
        'n1',
        n.state,
        encode('hello', { node: 'n1', driver: 'x', capacity: {}, startedAt: 0 }),
        1 << 20,
      ),
    );
    expect(bad.ok && bad.msg).toMatchObject({
      entries: [],
      error: { code: 'ENTROPY_BAD_REQUEST', field: '$.actionIds' },
    });
    const ids = Array.from({ length: 100 }, (_, i) => `a${i}`);
    const big = decode('ledgerReply', answerLedgerQuery('n1', n.state, encode('ledgerQuery', { actionIds: ids }), 200));
    expect(big.ok && big.msg).toMatchObject({
      entries: [],
      error: { code: 'ENTROPY_BAD_REQUEST', message: expect.stringContaining('ask for fewer ids') },
    });
  });

  it('sets the metadata the controller sends, counts the changes, and refuses a deposed leader', () => {
    const n = node(dir.path);
    const meta = (token?: number) =>
      encode('vmMeta', {
        vms: [{ vm: 'v9', vjob: 'j9', demand: { cpu: 1, mem: 64 } }],
        ...(token !== undefined ? { token } : {}),
      });
    const ack = (bytes: Uint8Array) => {
      const r = decode('vmMetaAck', bytes);
      return r.ok ? r.msg : r.error;
    };
    expect(ack(answerVmMeta('n1', n.state, meta(3), silent))).toEqual({ node: 'n1', updated: 1 });
    expect(ack(answerVmMeta('n1', n.state, meta(), silent))).toEqual({ node: 'n1', updated: 0 });
    expect(ack(answerVmMeta('n1', n.state, meta(2), silent))).toMatchObject({
      updated: 0,
      error: { code: 'ENTROPY_STALE_LEADER' },
    });
    expect(n.state.meta.get('v9')).toEqual({ vjob: 'j9', demand: { cpu: 1, mem: 64 } });
  });
});
