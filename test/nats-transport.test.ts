import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ActionRequest, decode, encode, subjects } from '@entropy/protocol';
import { connectNats, type NatsConnection } from '../packages/controller/src/controller/nats-connect.ts';
import { natsTransport, type NatsTransport } from '../packages/controller/src/executor/nats-transport.ts';
import { NodeLostError, TransientTransportError } from '../packages/controller/src/executor/transport.ts';
import { type NatsServer, startNatsServer } from './helpers/nats-server.ts';
import { waitFor } from './helpers/wait-for.ts';

const s = subjects('tt');

function request(id: string, node: string): ActionRequest {
  return {
    actionId: id,
    planId: 'p1',
    type: 'pause',
    vm: `vm-${id}`,
    vjob: 'j1',
    demand: { cpu: 1, mem: 512 },
    from: node,
    estimatedMs: 0,
    timeoutMs: 5000,
  };
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
  const rejected: { node: string; subject: string; reason: string }[] = [];

  beforeAll(async () => {
    server = await startNatsServer();
    controllerNc = await connectNats(server.url, 'tt-controller');
    agentNc = await connectNats(server.url, 'tt-agent');
    agentNc.subscribe(s.nodeAction('n1'), {
      callback: (_err, m) => {
        const r = decode('actionRequest', m.data);
        if (!r.ok) return void m.respond(new Uint8Array([0xc1]));
        const req = r.msg;
        if (req.actionId.startsWith('garbage'))
          return void m.respond(encode('hello', { node: 'n1', driver: 'x', capacity: {}, startedAt: 0 }));
        const forged = {
          actionId: req.actionId,
          node: 'n1',
          ok: true,
          durationMs: 1,
          ...(req.nonce ? { nonce: req.nonce } : {}),
        };
        if (req.actionId === 'forged-id')
          return void m.respond(encode('actionResult', { ...forged, actionId: 'someone-else' }));
        if (req.actionId === 'forged-node') return void m.respond(encode('actionResult', { ...forged, node: 'n2' }));
        if (req.actionId === 'forged-nonce')
          return void m.respond(encode('actionResult', { ...forged, nonce: 'a-guessed-nonce' }));
        if (req.actionId === 'echo-ok') return void m.respond(encode('actionResult', forged));
        if (req.actionId.startsWith('hold'))
          return void held.push({
            id: req.actionId,
            respond: () =>
              m.respond(encode('actionResult', { actionId: req.actionId, node: 'n1', ok: true, durationMs: 1 })),
          });
        m.respond(
          encode('actionResult', {
            actionId: req.actionId,
            node: 'n1',
            ok: true,
            durationMs: 1,
            state: 'paused',
            host: 'n1',
          }),
        );
        if (held.length >= 2) for (const h of held.splice(0).reverse()) h.respond();
      },
    });
    await agentNc.flush();
    transport = natsTransport(controllerNc, {
      subjects: s,
      isOffline: (node) => offline.has(node),
      onRejected: (r) => void rejected.push(r),
    });
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

  it("ignores a reply that is not its request's answer (not a result, another action's, another node's, without the nonce), reports it, and waits for the answer", async () => {
    for (const [id, reason] of [
      ['garbage-1', /^malformed result: \$\.actionId/],
      ['forged-id', /^reply for action "someone-else", expected forged-id$/],
      ['forged-node', /^reply from node n2 for an action sent to n1$/],
      ['forged-nonce', /^reply without the action's nonce$/],
    ] as const) {
      rejected.splice(0);
      const { abort, options } = sendOptions();
      const pending = transport.send({ ...request(id, 'n1'), nonce: 'the-plans-nonce' }, options);
      await waitFor(`the rejection of ${id}`, () => rejected.length > 0);
      expect(rejected).toEqual([
        { node: 'n1', subject: expect.stringMatching(/^_INBOX\./), reason: expect.stringMatching(reason) },
      ]);
      abort.abort();
      await expect(pending).rejects.toBeInstanceOf(TransientTransportError);
    }
    // The answer itself, with the nonce echoed, settles the request.
    const ok = await transport.send({ ...request('echo-ok', 'n1'), nonce: 'the-plans-nonce' }, sendOptions().options);
    expect(ok).toMatchObject({ actionId: 'echo-ok', node: 'n1', ok: true, nonce: 'the-plans-nonce' });
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
