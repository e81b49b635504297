import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import {
  type ApplyRequest,
  ControlErrorCode,
  encodeControl,
  EntropyError,
  ErrorCode,
  type StatusReply,
  subjects,
} from '@entropy/protocol';
import { newPlanId } from '../controller/controller.ts';
import { askController, connectNats } from '../controller/nats-connect.ts';
import { writeNatsConfig } from '../deploy/nats-config-command.ts';
import { agentUser, CONTROLLER_USER, OPERATOR_USER } from '../deploy/nats-roles.ts';
import type { Configuration } from '@entropy/engine';
import { startNatsServer, type NatsServer } from './nats-server.ts';
import { AGENT_BIN, ENTROPY_BIN, type ManagedProcess, startProcess } from './processes.ts';

export interface DemoClusterOptions {
  /** The nodes to simulate and the VMs they hold at start (running ones, and sleeping ones' images). */
  readonly configuration: Configuration;
  /** The sim agents run actions this many times faster than the cost model says. */
  readonly speed: number;
  readonly statusPeriodMs: number;
  readonly mode?: 'barrier' | 'asap';
}

/**
 * An embedded nats-server, one sim agent process per node, and a controller process. The server
 * runs with a production configuration written for the run: each process has its own credentials
 * (nkeys) and its role's permissions only.
 */
export interface DemoCluster {
  readonly url: string;
  /** The operator's credentials file (`entropy status --creds FILE`). */
  readonly operatorCreds: string;
  /** Holds every process's log. */
  readonly dir: string;
  readonly agents: readonly ManagedProcess[];
  readonly controller: ManagedProcess;
  status(): Promise<StatusReply>;
  /** Tells the controller which vjob each VM belongs to and what it demands (a dry-run apply). */
  register(source: Pick<ApplyRequest, 'vms' | 'vjobs'>): Promise<void>;
  stop(): Promise<void>;
}

export async function startDemoCluster(options: DemoClusterOptions): Promise<DemoCluster> {
  const dir = await mkdtemp(join(tmpdir(), 'entropy-demo-'));
  const started: ManagedProcess[] = [];
  let nats: NatsServer | undefined;
  const stopAll = async () => {
    await Promise.all(started.map((p) => p.stop()));
    await nats?.stop();
  };
  try {
    const auth = await writeNatsConfig({
      nodes: options.configuration.nodes.map((n) => n.id),
      out: join(dir, 'nats-server.conf'),
      storeDir: join(dir, 'js'),
      nkeys: true,
      simLink: true,
    });
    // JetStream and its store are in the config.
    nats = await startNatsServer({ config: auth.configs[0] });
    const url = nats.url;
    const period = String(options.statusPeriodMs);
    // The controller subscribes before the agents announce themselves.
    const controller = startProcess(
      'controller',
      ENTROPY_BIN,
      [
        'controller',
        '--nats',
        url,
        '--creds',
        auth.creds(CONTROLLER_USER),
        '--status-period',
        period,
        ...(options.mode ? ['--mode', options.mode] : []),
      ],
      join(dir, 'controller.log'),
    );
    started.push(controller);
    const agents: ManagedProcess[] = [];
    for (const node of options.configuration.nodes) {
      const held = options.configuration.vms
        .filter((v) => v.host === node.id && (v.state === 'running' || v.state === 'sleeping'))
        .map((v) => ({
          id: v.id,
          vjob: v.vjob,
          state: v.state,
          demand: { ...v.demand, cpu: v.demand.cpu ?? 0, mem: v.demand.mem ?? 0 },
        }));
      const vmsFile = join(dir, `${node.id}.vms.json`);
      await writeFile(vmsFile, JSON.stringify(held));
      const capacity = Object.entries(node.capacity)
        .map(([k, v]) => `${k}=${v}`)
        .join(',');
      const agent = startProcess(
        `agent ${node.id}`,
        AGENT_BIN,
        [
          '--node',
          node.id,
          '--nats',
          url,
          '--creds',
          auth.creds(agentUser(node.id)),
          '--driver',
          'sim',
          '--speed',
          String(options.speed),
          '--capacity',
          capacity,
          '--sim-vms',
          vmsFile,
          '--state-dir',
          join(dir, `state-${node.id}`),
          '--status-interval',
          period,
          '--log-level',
          'info',
        ],
        join(dir, `agent-${node.id}.log`),
      );
      agents.push(agent);
      started.push(agent);
    }
    const operatorCreds = auth.creds(OPERATOR_USER);
    const nc = await connectNats({ nats: url, creds: operatorCreds }, 'entropy-demo');
    const to = { subjects: subjects(), url };
    const status = (): Promise<StatusReply> =>
      askController(nc, to, 'status', encodeControl('statusRequest', {}), 'statusReply', 10_000);
    const register = async (source: Pick<ApplyRequest, 'vms' | 'vjobs'>): Promise<void> => {
      const request: ApplyRequest = {
        planId: newPlanId('register'),
        decision: {},
        vms: source.vms,
        vjobs: source.vjobs,
        dryRun: true,
      };
      // Busy while a node the controller knows has not reported since it started (agents connecting on a loaded
      // machine): asked again, for as long as an apply may wait.
      const deadline = Date.now() + 30_000;
      for (;;) {
        const reply = await askController(
          nc,
          to,
          'apply',
          encodeControl('applyRequest', request),
          'applyReply',
          30_000,
        );
        if (reply.ok) return;
        if (reply.error.code !== ControlErrorCode.Busy || Date.now() > deadline)
          throw new EntropyError(ErrorCode.Io, `the controller refused the demo's vjobs: ${JSON.stringify(reply)}`);
        await delay(250);
      }
    };
    return {
      url,
      operatorCreds,
      dir,
      agents,
      controller,
      status,
      register,
      async stop() {
        await nc.close();
        await stopAll();
      },
    };
  } catch (err) {
    await stopAll();
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
}

/** Waits until the controller sees every node online and every VM the nodes hold. */
export async function waitUntilObserved(
  cluster: DemoCluster,
  configuration: Configuration,
  timeoutMs: number,
): Promise<StatusReply> {
  const held = new Set(configuration.vms.filter((v) => v.host !== undefined).map((v) => v.id));
  const deadline = Date.now() + timeoutMs;
  let last: StatusReply | undefined;
  let lastError: unknown;
  let answered = false;
  while (Date.now() < deadline) {
    for (const p of [cluster.controller, ...cluster.agents]) {
      if (p.child.exitCode !== null)
        throw new EntropyError(ErrorCode.Io, `${p.name} exited with code ${p.child.exitCode}; see ${p.log}`);
    }
    try {
      last = await cluster.status();
      answered = true;
      const online = last.nodes.filter((n) => n.liveness === 'online').length;
      // VMs the controller does not manage yet (their vjob is registered by the first apply) count as seen.
      const seen = new Set(
        [...last.vms.map((v) => v.id), ...last.excluded.map((e) => e.vm)].filter((id) => held.has(id)),
      ).size;
      if (online === configuration.nodes.length && seen === held.size) return last;
    } catch (err) {
      lastError = err; // the controller may not answer yet
    }
    await delay(200);
  }
  const online = last?.nodes.filter((n) => n.liveness === 'online').length ?? 0;
  throw new EntropyError(
    ErrorCode.Io,
    `the cluster did not come up within ${timeoutMs} ms: ${online}/${configuration.nodes.length} nodes online${!answered && lastError ? ` (${(lastError as Error).message})` : ''}; logs in ${cluster.dir}`,
  );
}
