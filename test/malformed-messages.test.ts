import { setTimeout as delay } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CONTROL_VERBS, decode, decodeControl, encodeControl, subjects } from '@entropy/protocol';
import { connectNats, type NatsConnection } from '../packages/controller/src/controller/nats-connect.ts';
import { parseInstance } from '@entropy/engine';
import { startSimCluster, waitFor, type SimCluster } from './executor-cluster.ts';
import { type ControllerProcess, startControllerProcess, stopProcess } from './helpers/entropy-process.ts';
import { controllerStatus } from './helpers/controller-status.ts';
import { type NatsServer, startNatsServer } from './helpers/nats-server.ts';

const prefix = 'bad';
const s = subjects(prefix);

function hex(text: string): Uint8Array {
  return Uint8Array.from(Buffer.from(text, 'hex'));
}

/** Bytes no Entropy process may choke on: not msgpack, msgpack of the wrong shape, a wrong protocol version. */
const MALFORMED: readonly [string, Uint8Array][] = [
  ['not msgpack', new Uint8Array([0xc1, 0xff, 0x00, 0x13])],
  ['empty', new Uint8Array()],
  ['an array', hex('93010203')], // [1, 2, 3]
  ['a map of the wrong shape', hex('83a17601a46e6f64652aa3766d73a46e6f6e65')], // { v: 1, node: 42, vms: 'none' }
  ['wrong version', hex('82a17602a46e6f6465a26e31')], // { v: 2, node: 'n1' }
];

describe('malformed messages on every subject, against a real controller and a real agent', () => {
  const instance = parseInstance({
    nodes: [{ id: 'n1', cpu: 2, mem: 4096 }, { id: 'n2', cpu: 2, mem: 4096 }],
    vms: [{ id: 'v1', vjob: 'j1', cpu: 1, mem: 512, state: 'running', host: 'n1' }],
    vjobs: [{ id: 'j1' }],
  });
  let server: NatsServer;
  let controller: ControllerProcess;
  let agents: SimCluster;
  let nc: NatsConnection;

  const status = () => controllerStatus(nc, prefix);

  beforeAll(async () => {
    server = await startNatsServer({ jetstream: true });
    nc = await connectNats(server.url, 'malformed-test');
    controller = startControllerProcess(server.url, prefix);
    await waitFor('the controller to start', () => controller.log().includes('controller started'));
    agents = startSimCluster(instance, { url: server.url, prefix, statusIntervalMs: 500, speed: 4 });
    await waitFor('both nodes online', async () => (await status().catch(() => undefined))?.nodes.filter((n) => n.liveness === 'online').length === 2);
  });

  afterAll(async () => {
    await agents?.stop();
    await stopProcess(controller);
    await nc?.close();
    await server?.stop();
  });

  it('answers every malformed request with an error, on the agent and control subjects', async () => {
    for (const [what, bytes] of MALFORMED) {
      const action = decode('actionResult', (await nc.request(s.nodeAction('n1'), bytes, { timeout: 10_000 })).data);
      expect(action.ok && action.msg, `action, ${what}`).toMatchObject({ ok: false, error: { code: 'ENTROPY_BAD_REQUEST' } });
      for (const verb of CONTROL_VERBS) {
        const data = (await nc.request(s.control(verb), bytes, { timeout: 10_000 })).data;
        // Status and queue requests carry nothing the controller needs: it answers them whatever
        // the bytes, and the answer must still be a valid reply.
        if (verb === 'status' || verb === 'queue') {
          const reply = decodeControl(`${verb}Reply`, data);
          expect(reply.ok, `${verb}, ${what}`).toBe(true);
          continue;
        }
        const reply = decodeControl(`${verb}Reply`, data);
        expect(reply.ok && reply.msg, `${verb}, ${what}`).toMatchObject({ ok: false, error: { code: 'ENTROPY_BAD_REQUEST' } });
      }
    }
  });

  it('drops malformed publications on the status, hello, sim and progress subjects and keeps serving', async () => {
    for (const [, bytes] of MALFORMED) {
      nc.publish(s.nodeStatus('n1'), bytes);
      nc.publish(s.nodeStatus('ghost'), bytes);
      nc.publish(s.nodeHello('n2'), bytes);
      nc.publish(s.simLink('n2'), bytes);
      nc.publish(s.planProgress('p1'), bytes);
    }
    await nc.flush();
    await delay(1500);
    expect(controller.child.exitCode).toBeNull();
    for (const a of agents.agents.values()) expect(a.child.exitCode).toBeNull();
    const st = await status();
    expect(st.nodes.map((n) => [n.id, n.liveness])).toEqual([['n1', 'online'], ['n2', 'online']]);
    // v1 belongs to no vjob the controller was told about: it is seen, and left out of planning.
    expect(st.excluded.map((e) => [e.vm, e.node])).toEqual([['v1', 'n1']]);
    // The controller says what it dropped, as a pino JSON line.
    expect(controller.log().split('\n').filter((l) => l.includes('"level":40')).length).toBeGreaterThan(0);
  });
});
