import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Controller, startController } from '../packages/controller/src/controller/index.ts';
import { connectNats, type NatsConnection } from '../packages/controller/src/controller/nats-connect.ts';
import { type Configuration, parseInstance } from '@entropy/engine';
import { startSimCluster, waitFor, type SimCluster } from './executor-cluster.ts';
import { type NatsServer, startNatsServer } from './helpers/nats-server.ts';

describe('the control loop with an injected decide()', () => {
  const instance = parseInstance({
    nodes: [
      { id: 'm1', cpu: 2, mem: 4096 },
      { id: 'm2', cpu: 2, mem: 4096 },
    ],
    vms: [
      { id: 'a-vm1', vjob: 'a', cpu: 1, mem: 256, state: 'running', host: 'm1' },
      { id: 'a-vm2', vjob: 'a', cpu: 1, mem: 256, state: 'running', host: 'm2' },
      { id: 'b-vm1', vjob: 'b', cpu: 1, mem: 256, state: 'waiting' },
    ],
    vjobs: [{ id: 'a' }, { id: 'b' }],
  });
  let server: NatsServer;
  let nc: NatsConnection;
  let controller: Controller;
  let cluster: SimCluster;
  const errors: string[] = [];
  const seen: Configuration[] = [];
  let calls = 0;

  beforeAll(async () => {
    server = await startNatsServer();
    nc = await connectNats(server.url, 'test-loop');
    const logger = {
      info() {},
      debug() {},
      warn() {},
      error: (o: object, msg?: string) => errors.push(`${msg}: ${JSON.stringify(o)}`),
    };
    controller = startController(nc, {
      prefix: 'loop',
      logger,
      statusPeriodMs: 500,
      loopIntervalMs: 300,
      // A policy that swaps the two vjobs, after one bad turn that the loop must survive.
      decide: (configuration) => {
        seen.push(configuration);
        if (++calls === 1) throw new Error('policy bug');
        return configuration.vms.length === 3 ? { a: 'sleeping', b: 'running' } : undefined;
      },
    });
    controller.registry.register(instance.configuration);
    cluster = startSimCluster(instance, { url: server.url, prefix: 'loop', statusIntervalMs: 500, speed: 4 });
  });

  afterAll(async () => {
    await controller?.close();
    await cluster?.stop();
    await nc?.close();
    await server?.stop();
  });

  it('asks decide() each turn, survives a throwing policy, and executes the plan that reaches its decision', async () => {
    const outcome = await waitFor(
      'a plan of the loop to complete',
      () => controller.lastOutcome()?.status === 'completed' && controller.lastOutcome(),
    );
    expect(outcome.planId).toMatch(/^loop1-/);
    expect(errors.some((e) => e.includes('policy bug'))).toBe(true);
    await waitFor('a sleeping, b running on the agents', () => {
      const vms = new Map(controller.view().configuration.vms.map((v) => [v.id, v.state]));
      return vms.get('a-vm1') === 'sleeping' && vms.get('a-vm2') === 'sleeping' && vms.get('b-vm1') === 'running';
    });
    // Once the decision holds, turns find nothing to do: no second plan.
    const turns = calls;
    await waitFor('two more turns', () => calls >= turns + 2);
    expect(controller.lastOutcome()!.planId).toBe(outcome.planId);
  });
});
