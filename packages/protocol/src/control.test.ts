import { Packr } from 'msgpackr';
import { describe, expect, it } from 'vitest';
import { type ApplyReply, decodeControl, encodeControl } from './control.ts';
import { PROTOCOL_VERSION } from './codec.ts';

const packr = new Packr({ useRecords: false, mapsAsObjects: true, moreTypes: false });
const vm = (id: string) => ({ id, demand: { cpu: 1, mem: 256 } });

describe('queue control messages', () => {
  it('round-trips a submit request', () => {
    const msg = {
      vjob: { id: 'j1', priority: 2, vms: [vm('j1-vm1'), { id: 'j1-vm2', demand: { cpu: 1, mem: 256, gpu: 1 } }] },
    };
    expect(decodeControl('submitRequest', encodeControl('submitRequest', msg))).toEqual({ ok: true, msg });
  });

  it.each<[string, unknown, string]>([
    ['a vjob id that is no subject token', { vjob: { id: 'j.1', priority: 0, vms: [vm('a')] } }, '$.vjob.id'],
    ['no VM', { vjob: { id: 'j1', priority: 0, vms: [] } }, '$.vjob.vms'],
    ['two VMs with one id', { vjob: { id: 'j1', priority: 0, vms: [vm('a'), vm('a')] } }, '$.vjob.vms[1].id'],
    [
      'a VM without mem',
      { vjob: { id: 'j1', priority: 0, vms: [{ id: 'a', demand: { cpu: 1 } }] } },
      '$.vjob.vms[0].demand.mem',
    ],
  ])('rejects a submit request with %s, naming %s', (_what, body, field) => {
    const r = decodeControl('submitRequest', packr.pack({ v: PROTOCOL_VERSION, ...(body as object) }));
    expect(r).toMatchObject({ ok: false, error: { code: 'ENTROPY_INVALID_MESSAGE', field } });
  });

  it('round-trips a node request and its reply, and rejects a state other than online or offline', () => {
    const msg = { node: 'n3', state: 'offline' } as const;
    expect(decodeControl('nodeRequest', encodeControl('nodeRequest', msg))).toEqual({ ok: true, msg });
    const reply = {
      ok: true,
      node: 'n3',
      wanted: 'offline',
      liveness: 'online',
      note: 'v1, v2 move away first',
    } as const;
    expect(decodeControl('nodeReply', encodeControl('nodeReply', reply))).toEqual({ ok: true, msg: reply });
    expect(
      decodeControl('nodeRequest', packr.pack({ v: PROTOCOL_VERSION, node: 'n3', state: 'asleep' })),
    ).toMatchObject({ ok: false, error: { field: '$.state' } });
  });

  it('round-trips a drain request and its reply; a node request gives a state or a drain, not both or neither', () => {
    const drain = { node: 'n3', drain: true };
    expect(decodeControl('nodeRequest', encodeControl('nodeRequest', drain))).toEqual({ ok: true, msg: drain });
    const reply = { ok: true, node: 'n3', drained: true, liveness: 'online', note: '1 VM(s) move off n3: v1' } as const;
    expect(decodeControl('nodeReply', encodeControl('nodeReply', reply))).toEqual({ ok: true, msg: reply });
    for (const bad of [{ node: 'n3' }, { node: 'n3', state: 'online', drain: false }])
      expect(decodeControl('nodeRequest', packr.pack({ v: PROTOCOL_VERSION, ...bad }))).toMatchObject({
        ok: false,
        error: { field: '$.state', reason: 'give either state or drain' },
      });
  });

  it("carries a plan's node actions in an apply reply, and accepts a reply without them", () => {
    const reply: ApplyReply = {
      ok: true,
      planId: 'p1',
      actions: [],
      steps: 1,
      makespan: 30_000,
      sumCompletion: 30_000,
      solveMs: 1,
      excluded: [],
      target: {},
      executing: true,
    };
    const withNodes: ApplyReply = {
      ...reply,
      nodeActions: [{ id: 'a1', type: 'shutdownNode', node: 'n3', start: 0, end: 30_000, step: 0, dependsOn: [] }],
    };
    expect(decodeControl('applyReply', encodeControl('applyReply', withNodes))).toEqual({ ok: true, msg: withNodes });
    expect(decodeControl('applyReply', encodeControl('applyReply', reply))).toEqual({ ok: true, msg: reply });
  });

  it('rejects a cancel request without an id', () => {
    expect(decodeControl('cancelRequest', encodeControl('queueRequest', {}))).toMatchObject({
      ok: false,
      error: { field: '$.id' },
    });
  });
});

describe('the cost model of an apply request', () => {
  it('round-trips lines per kind and per node', () => {
    const msg = {
      planId: 'p1',
      decision: { j1: 'running' as const },
      costModel: { run: { base: 3000 }, nodes: { n1: { migrate: { base: 5, perMiB: 2 } } } },
    };
    expect(decodeControl('applyRequest', encodeControl('applyRequest', msg))).toEqual({ ok: true, msg });
  });

  it.each<[string, unknown, string]>([
    ['a negative line', { run: { base: -1 } }, '$.costModel.run.base'],
    ['a negative node line', { nodes: { n1: { run: { perMiB: -1 } } } }, '$.costModel.nodes.n1.run.perMiB'],
    ['a node id that is no subject token', { nodes: { 'n.1': { run: { base: 1 } } } }, '$.costModel.nodes'],
  ])('rejects %s, naming %s', (_what, costModel, field) => {
    const r = decodeControl('applyRequest', packr.pack({ v: PROTOCOL_VERSION, planId: 'p1', decision: {}, costModel }));
    expect(r).toMatchObject({ ok: false, error: { field: expect.stringContaining(field) } });
  });
});
