import type { NatsConnection } from '../../packages/controller/src/controller/nats-connect.ts';
import { connectNats } from '../../packages/controller/src/controller/nats-connect.ts';
import type { Instance } from '@entropy/engine';
import { startSimCluster, type SimCluster } from '../executor-cluster.ts';
import { controllerStatus } from './controller-status.ts';
import { type ControllerProcess, startControllerProcess, stopProcess } from './entropy-process.ts';
import { type NatsServer, startNatsServer } from './nats-server.ts';
import { waitFor } from './wait-for.ts';

/** A nats-server with JetStream, a controller process leading its prefix, and one sim agent process per node of an instance. */
export interface ControllerCluster {
  readonly server: NatsServer;
  readonly nc: NatsConnection;
  readonly agents: SimCluster;
  /** The controller process; `restart` replaces it. */
  controller: ControllerProcess;
  /** Starts a controller process again with the same arguments (after a kill, say) and waits until it leads. */
  restart(): Promise<ControllerProcess>;
  stop(): Promise<void>;
}

const LEADING = 'leading: this controller plans and executes';

export async function startControllerCluster(options: {
  readonly prefix: string;
  readonly instance: Instance;
  readonly speed: number;
  readonly controllerArgs: readonly string[];
  readonly agentArgs?: readonly string[];
}): Promise<ControllerCluster> {
  const { prefix } = options;
  const server = await startNatsServer({ jetstream: true });
  const nc = await connectNats(server.url, `test-${prefix}`);
  const start = async () => {
    const c = startControllerProcess(server.url, prefix, ...options.controllerArgs);
    await waitFor('the controller to lead', () => c.log().includes(LEADING));
    return c;
  };
  const cluster: ControllerCluster = {
    server,
    nc,
    controller: await start(),
    agents: startSimCluster(options.instance, {
      url: server.url,
      prefix,
      statusIntervalMs: 500,
      speed: options.speed,
      ...(options.agentArgs ? { agentArgs: options.agentArgs } : {}),
    }),
    async restart() {
      cluster.controller = await start();
      return cluster.controller;
    },
    async stop() {
      await stopProcess(cluster.controller);
      await cluster.agents.stop();
      await nc.close();
      await server.stop();
    },
  };
  const nodes = options.instance.configuration.nodes.length;
  await waitFor(
    `${nodes} agents online`,
    async () =>
      (await controllerStatus(nc, prefix).catch(() => undefined))?.nodes.filter((n) => n.liveness === 'online')
        .length === nodes,
  );
  return cluster;
}
