/**
 * A group of sim agents in one process, for the executor bench: each agent is the real agent
 * (startAgent) with the real sim driver on its own NATS connection, as if it were its own process.
 * The sim sleeps nothing for a zero estimate, so an action costs only the agent's own work.
 *
 * Driven over the IPC channel: it sends `ready` once every agent's hello was acknowledged, answers
 * `burst` (publish statuses as fast as it can) and `stop`; it stops by itself when the bench
 * process goes away (the channel disconnects).
 */
import { setTimeout as delay } from 'node:timers/promises';
import { encode, type NodeStatus, subjects } from '@entropy/protocol';
import {
  type Agent,
  connect,
  natsSimPeers,
  type NatsConnection,
  simDriver,
  type SimDriver,
  startAgent,
} from '../../agent/src/index.ts';
import { NODE_CAPACITY, vmsOfNode } from './executor-layout.ts';

export interface AgentGroupTask {
  readonly url: string;
  readonly prefix: string;
  readonly nodes: readonly string[];
  readonly statusIntervalMs: number;
}

export type ToAgentGroup =
  | { readonly kind: 'burst'; readonly perAgent: number; readonly seq: number }
  | { readonly kind: 'stop' };
export type FromAgentGroup =
  | { readonly kind: 'ready'; readonly ms: number }
  | { readonly kind: 'burst-done'; readonly published: number; readonly bytes: number; readonly ms: number }
  | { readonly kind: 'error'; readonly message: string };

interface Member {
  readonly node: string;
  readonly nc: NatsConnection;
  readonly driver: SimDriver;
  readonly agent: Agent;
}

const silent = { info() {}, warn() {}, error() {}, debug() {} };
const noSleep = (ms: number) => (ms > 0 ? delay(ms) : Promise.resolve());

async function startMember(task: AgentGroupTask, node: string): Promise<Member> {
  const nc = await connect({ servers: task.url, name: `entropy-bench-agent-${node}`, reconnect: false });
  const driver = simDriver({
    node,
    capacity: NODE_CAPACITY,
    speed: 1e6,
    vms: vmsOfNode(node),
    peers: natsSimPeers(nc, task.prefix),
    sleep: noSleep,
  });
  const agent = await startAgent(nc, {
    node,
    prefix: task.prefix,
    capacity: NODE_CAPACITY,
    driver,
    statusIntervalMs: task.statusIntervalMs,
    logger: silent,
  });
  return { node, nc, driver, agent };
}

/** Every agent publishes `perAgent` copies of its current status, interleaved across agents, then flushes. */
async function burst(
  task: AgentGroupTask,
  members: readonly Member[],
  perAgent: number,
  seq: number,
): Promise<FromAgentGroup> {
  const s = subjects(task.prefix);
  const payloads = await Promise.all(
    members.map(async (m) => {
      const vms = (await m.driver.list()).map((v) => ({ ...v, host: m.node }));
      const status: NodeStatus = {
        node: m.node,
        seq,
        ts: Date.now(),
        driver: 'sim',
        capacity: { ...NODE_CAPACITY },
        vms,
        inFlight: 0,
      };
      return { nc: m.nc, subject: s.nodeStatus(m.node), bytes: encode('status', status) };
    }),
  );
  const t0 = performance.now();
  for (let i = 0; i < perAgent; i++) for (const p of payloads) p.nc.publish(p.subject, p.bytes);
  await Promise.all(payloads.map((p) => p.nc.flush()));
  return {
    kind: 'burst-done',
    published: perAgent * payloads.length,
    bytes: payloads[0]?.bytes.length ?? 0,
    ms: performance.now() - t0,
  };
}

const send = (m: FromAgentGroup) => process.send?.(m);
const task = JSON.parse(process.argv[2] ?? '{}') as AgentGroupTask;
let members: Member[] = [];
let stopping: Promise<void> | undefined;

function stopAll(code: number): Promise<void> {
  stopping ??= Promise.allSettled(members.map((m) => m.agent.stop())).then(() => process.exit(code));
  return stopping;
}

process.on('disconnect', () => void stopAll(0));
process.on('message', (m: ToAgentGroup) => {
  if (m.kind === 'stop') void stopAll(0);
  else if (m.kind === 'burst')
    burst(task, members, m.perAgent, m.seq).then(send, (err: Error) =>
      send({ kind: 'error', message: `burst: ${err.message}` }),
    );
});

try {
  const t0 = performance.now();
  const started = await Promise.allSettled(task.nodes.map((node) => startMember(task, node)));
  members = started.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
  const failed = started.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
  await Promise.all(members.map((m) => m.agent.announced));
  send({ kind: 'ready', ms: performance.now() - t0 });
} catch (err) {
  send({ kind: 'error', message: `agents ${task.nodes[0]}..: ${(err as Error).message}` });
  await stopAll(1);
}
