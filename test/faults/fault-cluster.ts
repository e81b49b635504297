import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, mkdirSync, openSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { connectNats, type NatsConnection } from '../../packages/controller/src/controller/nats-connect.ts';
import { type NatsServer, startNatsServer } from '../helpers/nats-server.ts';
import {
  decode,
  decodeControl,
  encodeControl,
  type NodeStatus,
  type StatusReply,
  subjects,
  type ControlKind,
  type ControlMessageOf,
  type ControlVerb,
} from '@entropy/protocol';

const AGENT_BIN = new URL('../../packages/agent/bin/entropy-agent.js', import.meta.url).pathname;
const ENTROPY_BIN = new URL('../../packages/controller/bin/entropy.js', import.meta.url).pathname;

/** A process of the cluster that the suite kills and restarts; its stderr (pino lines) is appended to one log file across restarts. */
export class Managed {
  private child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();
  starts = 0;

  constructor(
    readonly name: string,
    private readonly bin: string,
    private readonly args: () => readonly string[],
    readonly log: string,
  ) {}

  start(): void {
    const fd = openSync(this.log, 'a');
    const child = spawn(process.execPath, [this.bin, ...this.args()], { stdio: ['ignore', fd, fd] });
    closeSync(fd);
    this.child = child;
    this.starts++;
    this.exited = new Promise((resolve) => child.once('exit', () => resolve()));
  }

  running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** As a crash: SIGKILL. */
  async kill(): Promise<void> {
    if (!this.running()) return;
    this.child!.kill('SIGKILL');
    await this.exited;
  }

  async stop(): Promise<void> {
    if (!this.running()) return;
    this.child!.kill('SIGTERM');
    const gone = await Promise.race([this.exited.then(() => true), delay(10_000).then(() => false)]);
    if (!gone) await this.kill();
  }
}

export interface FaultClusterOptions {
  readonly dir: string;
  readonly prefix: string;
  readonly nodes: readonly string[];
  readonly capacity: string;
  readonly statusPeriodMs: number;
  readonly speed: number;
  readonly leaseMs: number;
  /** Controller processes: the first leads, the others stand by. */
  readonly controllers: number;
}

/** The latest status each agent published, as the agents report it (not as the controller sees it). */
export class AgentReports {
  readonly latest = new Map<string, { status: NodeStatus; at: number }>();
  private sub: ReturnType<NatsConnection['subscribe']> | undefined;

  watch(nc: NatsConnection, prefix: string): void {
    this.sub = nc.subscribe(subjects(prefix).allNodeStatus(), {
      callback: (_err, m) => {
        const r = decode('status', m.data);
        if (!r.ok) return;
        const prev = this.latest.get(r.msg.node);
        // A restarted agent's seq starts at 0 again: order by its timestamp.
        if (!prev || r.msg.ts >= prev.status.ts) this.latest.set(r.msg.node, { status: r.msg, at: Date.now() });
      },
    });
  }

  /** Each VM's freshest report: state, host, vjob. */
  vms(): Map<string, { state: string; host: string; vjob?: string; at: number }> {
    const out = new Map<string, { state: string; host: string; vjob?: string; at: number }>();
    for (const { status } of this.latest.values())
      for (const vm of status.vms) {
        const prev = out.get(vm.id);
        if (!prev || status.ts > prev.at)
          out.set(vm.id, { state: vm.state, host: status.node, ...(vm.vjob ? { vjob: vm.vjob } : {}), at: status.ts });
      }
    return out;
  }

  close(): void {
    this.sub?.unsubscribe();
  }
}

/** nats-server with JetStream, controller processes, one sim agent per node with its state dir and fault rules. */
export class FaultCluster {
  server!: NatsServer;
  nc!: NatsConnection;
  readonly agents = new Map<string, Managed>();
  readonly controllers: Managed[] = [];
  readonly reports = new AgentReports();
  private faultRules = new Map<string, object[]>();

  constructor(readonly options: FaultClusterOptions) {}

  async start(): Promise<void> {
    const { dir, prefix, statusPeriodMs } = this.options;
    for (const d of ['logs', 'agents', 'faults']) mkdirSync(join(dir, d), { recursive: true });
    this.server = await startNatsServer({ jetstream: true });
    this.nc = await connectNats(this.server.url, 'fault-suite', { reconnect: true });
    this.reports.watch(this.nc, prefix);
    for (let i = 0; i < this.options.controllers; i++) {
      const c = new Managed(
        `controller-${i}`,
        ENTROPY_BIN,
        () => [
          'controller',
          '--nats',
          this.server.url,
          '--prefix',
          prefix,
          '--status-period',
          String(statusPeriodMs),
          '--loop-interval',
          '1000',
          '--queue-store',
          'kv',
          '--lease',
          String(this.options.leaseMs),
          '--retry-backoff',
          '300',
          '--log-level',
          'debug',
        ],
        join(dir, 'logs', `controller-${i}.log`),
      );
      this.controllers.push(c);
      c.start();
      // The first one leads: the others start once it does.
      if (i === 0) await this.waitForLeader(60_000);
    }
    for (const node of this.options.nodes) {
      const faults = join(dir, 'faults', `${node}.json`);
      writeFileSync(faults, '[]');
      const a = new Managed(
        `agent-${node}`,
        AGENT_BIN,
        () => [
          '--node',
          node,
          '--nats',
          this.server.url,
          '--driver',
          'sim',
          '--prefix',
          prefix,
          '--capacity',
          this.options.capacity,
          '--status-interval',
          String(statusPeriodMs),
          '--speed',
          String(this.options.speed),
          '--state-dir',
          join(dir, 'agents', node),
          '--sim-faults',
          faults,
          '--log-level',
          'info',
        ],
        join(dir, 'logs', `agent-${node}.log`),
      );
      this.agents.set(node, a);
      a.start();
    }
  }

  /** Adds a fault rule to a node's sim driver (re-read by the agent at its next action). */
  injectFault(node: string, rule: object): void {
    const rules = [...(this.faultRules.get(node) ?? []), rule];
    this.faultRules.set(node, rules);
    writeFileSync(join(this.options.dir, 'faults', `${node}.json`), JSON.stringify(rules));
  }

  /** A control request to whichever controller leads; undefined when none answers. */
  async control<Q extends ControlKind, R extends ControlKind>(
    verb: ControlVerb,
    kind: Q,
    msg: ControlMessageOf<Q>,
    replyKind: R,
    timeoutMs = 10_000,
  ): Promise<ControlMessageOf<R> | undefined> {
    try {
      const m = await this.nc.request(subjects(this.options.prefix).control(verb), encodeControl(kind, msg), {
        timeout: timeoutMs,
      });
      const r = decodeControl(replyKind, m.data);
      return r.ok ? r.msg : undefined;
    } catch {
      return undefined;
    }
  }

  status(): Promise<StatusReply | undefined> {
    return this.control('status', 'statusRequest', {}, 'statusReply', 5000);
  }

  async waitForLeader(timeoutMs: number): Promise<StatusReply> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const st = await this.status();
      if (st) return st;
      if (Date.now() > deadline) throw new Error('no controller leads');
      await delay(100);
    }
  }

  async stop(): Promise<void> {
    this.reports.close();
    await Promise.all([...this.agents.values()].map((a) => a.stop()));
    await Promise.all(this.controllers.map((c) => c.stop()));
    await this.nc?.close();
    await this.server?.stop();
  }
}
