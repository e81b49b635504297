import { decodeControl, encodeControl, type NodeReply, silentLogger } from '@entropy/protocol';
import { describe, expect, it } from 'vitest';
import type { MonitorView, NodeView } from '../monitor/index.ts';
import type { NodePowerRecord } from '../queue/queue-store.ts';
import { nodePowerRequest, type NodePowerRequestDeps } from './node-power-request.ts';

const nodeView = (id: string, liveness: NodeView['liveness'], poweredOff = false): NodeView => ({
  id,
  liveness,
  driver: 'sim',
  capacity: { cpu: 4, mem: 4096 },
  lastSeen: 0,
  vms: 0,
  inFlight: 0,
  ...(poweredOff ? { poweredOff } : {}),
});

function harness(over: Partial<NodePowerRequestDeps> = {}) {
  const records = new Map<string, NodePowerRecord>();
  const requested: string[] = [];
  const view: MonitorView = {
    at: 0,
    configuration: {
      nodes: [],
      vms: [
        { id: 'v3', vjob: 'j3', demand: { cpu: 1, mem: 1 }, state: 'running', host: 'n3' },
        { id: 'v4', vjob: 'j4', demand: { cpu: 1, mem: 1 }, state: 'sleeping', host: 'n3' },
      ],
      vjobs: [],
    },
    nodes: [nodeView('n1', 'online'), nodeView('n3', 'online'), nodeView('n4', 'offline', true)],
    excluded: [],
    usage: {},
  };
  const deps: NodePowerRequestDeps = {
    logger: silentLogger,
    leading: () => true,
    view: () => view,
    records: () => records,
    knownNodes: () => new Set(['n1', 'n3', 'n4', 'n5']),
    unsupported: () => undefined,
    update: async (node, change) => {
      const next = change(records.get(node));
      if (next && (next.wanted || next.poweredOff || next.drained)) records.set(node, next);
      else records.delete(node);
    },
    requested: (node) => void requested.push(node),
    ...over,
  };
  const ask = async (msg: unknown): Promise<NodeReply> => {
    const r = decodeControl(
      'nodeReply',
      await nodePowerRequest(deps, msg instanceof Uint8Array ? msg : encodeControl('nodeRequest', msg as never)),
    );
    if (!r.ok) throw new Error(r.error.reason);
    return r.msg;
  };
  return { records, requested, ask };
}

describe('the node control request', () => {
  it('drain records the node drained beside its power wish, says which VMs move; undrain lifts only the drain', async () => {
    const h = harness();
    h.records.set('n3', { wanted: 'offline' });
    expect(await h.ask({ node: 'n3', drain: true })).toEqual({
      ok: true,
      node: 'n3',
      drained: true,
      liveness: 'online',
      note: '1 VM(s) move off n3: v3',
    });
    expect(h.records.get('n3')).toEqual({ wanted: 'offline', drained: true });
    expect(await h.ask({ node: 'n3', drain: false })).toMatchObject({ ok: true, drained: false });
    expect(h.records.get('n3')).toEqual({ wanted: 'offline' });
    expect(h.requested).toEqual(['n3', 'n3']);
    expect(await h.ask({ node: 'n9', drain: true })).toMatchObject({
      ok: false,
      error: { code: 'ENTROPY_UNKNOWN_NODE' },
    });
  });

  it('records a shutdown, asks the loop for a turn, and says which VMs move first', async () => {
    const h = harness();
    expect(await h.ask({ node: 'n3', state: 'offline' })).toEqual({
      ok: true,
      node: 'n3',
      wanted: 'offline',
      liveness: 'online',
      note: '2 VM(s) move off n3 first: v3, v4',
    });
    expect(h.records.get('n3')).toEqual({ wanted: 'offline' });
    expect(h.requested).toEqual(['n3']);
  });

  it('records a boot of a powered-off node, and drops the wish for a node online already', async () => {
    const h = harness();
    h.records.set('n4', { wanted: 'offline', poweredOff: { at: 1, capacity: { cpu: 4 } } });
    expect(await h.ask({ node: 'n4', state: 'online' })).toMatchObject({
      ok: true,
      wanted: 'online',
      liveness: 'offline',
    });
    expect(h.records.get('n4')).toEqual({ wanted: 'online', poweredOff: { at: 1, capacity: { cpu: 4 } } });
    h.records.set('n1', { wanted: 'offline' });
    expect(await h.ask({ node: 'n1', state: 'online' })).toMatchObject({ ok: true, note: 'n1 is online already' });
    expect(h.records.has('n1')).toBe(false);
    // Known from the store but silent since a restart: accepted, shut down once it reports.
    expect(await h.ask({ node: 'n5', state: 'offline' })).toMatchObject({
      ok: true,
      liveness: 'unknown',
      note: 'n5 is unknown: it is shut down when it reports again',
    });
  });

  it('refuses a boot the controller cannot run, naming the option, and an unknown node', async () => {
    const h = harness({
      unsupported: (s) =>
        s === 'online' ? "this controller has no boot command: start it with --boot-command 'CMD {node}'" : undefined,
    });
    expect(await h.ask({ node: 'n4', state: 'online' })).toEqual({
      ok: false,
      error: {
        code: 'ENTROPY_NODE_POWER_UNSUPPORTED',
        field: 'state',
        message: "cannot boot n4: this controller has no boot command: start it with --boot-command 'CMD {node}'",
      },
    });
    expect(await h.ask({ node: 'n9', state: 'offline' })).toMatchObject({
      ok: false,
      error: { code: 'ENTROPY_UNKNOWN_NODE', field: 'node' },
    });
    expect(h.records.size).toBe(0);
    expect(h.requested).toEqual([]);
  });

  it('answers a malformed request naming the field, and a standby refuses', async () => {
    expect(await harness().ask(encodeControl('statusRequest', {}))).toMatchObject({
      ok: false,
      error: { code: 'ENTROPY_BAD_REQUEST', field: '$.node' },
    });
    expect(await harness({ leading: () => false }).ask({ node: 'n3', state: 'offline' })).toMatchObject({
      ok: false,
      error: { code: 'ENTROPY_BUSY' },
    });
  });
});
