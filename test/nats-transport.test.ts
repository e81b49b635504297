import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ActionRequest, decode, encode, subjects } from '@entropy/protocol';
import { connectNats, type NatsConnection } from '../packages/controller/src/controller/nats-connect.ts';
import { natsTransport, type NatsTransport } from '../packages/controller/src/executor/nats-transport.ts';
import { NodeLostError, TransientTransportError } from '../packages/controller/src/executor/transport.ts';
import { type NatsServer, startNatsServer } from './helpers/nats-server.ts';

const s = subjects('tt');

function request(id: string, node: string): ActionRequest {
  return { actionId: id, planId: 'p1', type: 'pause', vm: `vm-${id}`, vjob: 'j1', demand: { cpu: 1, mem: 512 }, from: node, estimatedMs: 0, timeoutMs: 5000 };
}

/** The executor's send options, with a signal the test can fire. */
function sendOptions() {
  const abort = new AbortController();
  return { abort, options: { signal: abort.signal, timeoutMs: 5000 } };
}

describe("the executor's NATS transport against a real nats-server", () => {
  let server: NatsServer;
  let controllerNc: NatsConnection;
  let agentNc: NatsConnection;
  let transport: NatsTransport;
  const offline = new Set<string>();
  /** Requests seen by the fake agent of n1, which answers them in reverse order, by pairs. */
  const held: { id: string; respond: () => void }[] = [];

  beforeAll(async () => {
    server = await startNatsServer();
    controllerNc = await connectNats(server.url, 'tt-controller');
    agentNc = await connectNats(server.url, 'tt-agent');
    agentNc.subscribe(s.nodeAction('n1'), {
      callback: (_err, m) => {
        const r = decode('actionRequest', m.data);
        if (!r.ok) return void m.respond(new Uint8Array([0xc1]));
        const req = r.msg;
        if (req.actionId.startsWith('garbage')) return void m.respond(encode('hello', { node: 'n1', driver: 'x', capacity: {}, startedAt: 0 }));
        if (req.actionId.startsWith('hold')) return void held.push({ id: req.actionId, respond: () => m.respond(encode('actionResult', { actionId: req.actionId, node: 'n1', ok: true, durationMs: 1 })) });
        m.respond(encode('actionResult', { actionId: req.actionId, node: 'n1', ok: true, durationMs: 1, state: 'paused', host: 'n1' }));
        if (held.length >= 2) for (const h of held.splice(0).reverse()) h.respond();
      },
    });
    await agentNc.flush();
    transport = natsTransport(controllerNc, { subjects: s, isOffline: (node) => offline.has(node) });
  });

  afterAll(async () => {
    await controllerNc?.close();
    await agentNc?.close();
    await server?.stop();
  });

  it('gets each request its own result, whatever order the replies come in', async () => {
    const { options } = sendOptions();
    const [a, b] = [transport.send(request('hold-a', 'n1'), options), transport.send(request('hold-b', 'n1'), options)];
    // A third request releases the two held ones, answered b first.
    const c = await transport.send(request('c', 'n1'), options);
    expect(c).toMatchObject({ actionId: 'c', ok: true, state: 'paused' });
    expect((await a).actionId).toBe('hold-a');
    expect((await b).actionId).toBe('hold-b');
  });

  it('fails a request nobody serves as transient, so that the executor retries it', async () => {
    const { options } = sendOptions();
    const err = await transport.send(request('x', 'n9'), options).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TransientTransportError);
    expect((err as Error).message).toMatch(/no responders/);
  });

  it('rejects a reply that is not an action result, naming the node', async () => {
    const { options } = sendOptions();
    await expect(transport.send(request('garbage-1', 'n1'), options)).rejects.toThrow(/malformed result from n1: \$\.actionId/);
  });

  it('gives up on a request when the executor aborts it, and when its node is lost', async () => {
    const aborted = sendOptions();
    const pending = transport.send(request('hold-abort', 'n1'), aborted.options);
    aborted.abort.abort();
    await expect(pending).rejects.toBeInstanceOf(TransientTransportError);
    const lost = transport.send(request('hold-lost', 'n1'), sendOptions().options);
    // The request is on its way when the monitor declares the node lost.
    await controllerNc.flush();
    transport.nodeLost('n1');
    await expect(lost).rejects.toBeInstanceOf(NodeLostError);
    held.splice(0);
    offline.add('n1');
    await expect(transport.send(request('y', 'n1'), sendOptions().options)).rejects.toBeInstanceOf(NodeLostError);
    offline.delete('n1');
  });

  it('fails pending requests at once when the connection closes', async () => {
    const pending = transport.send(request('hold-close', 'n1'), sendOptions().options);
    await controllerNc.flush();
    await controllerNc.close();
    await expect(pending).rejects.toThrow(/connection closed/);
    await expect(transport.send(request('z', 'n1'), sendOptions().options)).rejects.toThrow(/connection closed/);
  });
});
