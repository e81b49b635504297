import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NatsConnection } from '../packages/agent/src/index.ts';
import { decode, encode, type NodeStatus, subjects } from '../packages/protocol/src/index.ts';
import type { Logger } from '../packages/controller/src/controller/logger.ts';
import { agentUser, CONTROLLER_USER } from '../packages/controller/src/deploy/nats-roles.ts';
import { type NatsMonitor, startNatsMonitor } from '../packages/controller/src/monitor/nats-monitor.ts';
import { type SecuredNats, startSecuredNats } from './helpers/secured-nats.ts';
import { waitFor } from './helpers/wait-for.ts';

const s = subjects();
const status = (node: string, seq: number, vms: NodeStatus['vms']): Uint8Array =>
  encode('status', { node, seq, ts: Date.now(), driver: 'sim', capacity: { cpu: 4, mem: 4096 }, vms, inFlight: 0 });
const hello = (node: string) =>
  encode('hello', { node, driver: 'sim', capacity: { cpu: 4, mem: 4096 }, startedAt: Date.now(), pid: 1 });

describe("the controller's monitor checks that a message's node is its subject's", () => {
  let nats: SecuredNats;
  let monitor: NatsMonitor;
  let n1: NatsConnection;
  let n2: NatsConnection;
  const warnings: { obj: Record<string, unknown>; msg: string }[] = [];
  const logger: Logger = {
    info() {},
    debug() {},
    error() {},
    warn: (obj, msg) => void warnings.push({ obj: obj as Record<string, unknown>, msg: msg ?? '' }),
  };

  beforeAll(async () => {
    // The production configuration: each agent may publish on its own subjects only, whatever its messages claim.
    nats = await startSecuredNats({ nodes: ['n1', 'n2'] });
    monitor = startNatsMonitor(await nats.connectAs(CONTROLLER_USER), {
      subjects: s,
      name: 'test-controller',
      logger,
      periodMs: 200,
    });
    n1 = await nats.connectAs(agentUser('n1'));
    n2 = await nats.connectAs(agentUser('n2'));
  });

  afterAll(async () => {
    await monitor?.close();
    await nats?.stop();
  });

  it("refuses a status that claims another node on the agent's own subject: no ghost VM, the real node's statuses kept", async () => {
    n2.publish(s.nodeStatus('n2'), status('n2', 0, [{ id: 'real', state: 'running', host: 'n2' }]));
    n1.publish(s.nodeStatus('n1'), status('n1', 0, []));
    await waitFor('n1 and n2 online', () => monitor.nodes().filter((n) => n.liveness === 'online').length === 2);
    for (let seq = 1; seq <= 20; seq++)
      n1.publish(s.nodeStatus('n1'), status('n2', 1000 + seq, [{ id: 'ghost', state: 'running', host: 'n2' }]));
    await n1.flush();
    n2.publish(
      s.nodeStatus('n2'),
      status('n2', 1, [
        { id: 'real', state: 'running', host: 'n2' },
        { id: 'real2', state: 'running', host: 'n2' },
      ]),
    );
    await waitFor("n2's next status", () => monitor.placeOf('real2') !== undefined);
    expect(monitor.placeOf('ghost')).toBeUndefined();
    expect(monitor.placeOf('real')).toEqual({ state: 'running', host: 'n2' });
    const refused = warnings.filter((w) => w.msg === "status refused: its node is not its subject's");
    // Logged once for the twenty: a flood does not flood the log.
    expect(refused).toEqual([
      {
        obj: { subject: 'entropy.node.n1.status', subjectNode: 'n1', claimed: 'n2' },
        msg: "status refused: its node is not its subject's",
      },
    ]);
  });

  it('does not acknowledge a hello that claims another node, and adds no node for it', async () => {
    await expect(n1.request(s.nodeHello('n1'), hello('n9'), { timeout: 1000 })).rejects.toThrow(/timeout/i);
    expect(monitor.nodes().map((n) => n.id)).toEqual(['n1', 'n2']);
    expect(
      warnings.some((w) => w.msg === "hello refused: its node is not its subject's" && w.obj.claimed === 'n9'),
    ).toBe(true);
    // Its own hello is acknowledged.
    const ack = decode('helloAck', (await n1.request(s.nodeHello('n1'), hello('n1'), { timeout: 5000 })).data);
    expect(ack).toMatchObject({ ok: true, msg: { node: 'n1', by: 'test-controller' } });
  });
});
