import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import type { Instance } from '@entropy/engine';
import { waitFor } from './helpers/wait-for.ts';

export { waitFor };

const AGENT_BIN = new URL('../packages/agent/bin/entropy-agent.js', import.meta.url).pathname;

export interface AgentProcess {
  readonly node: string;
  readonly child: ChildProcess;
  readonly stderr: string[];
  readonly exited: Promise<number | null>;
}

export interface SimCluster {
  readonly agents: Map<string, AgentProcess>;
  /** The command line that started a node's agent (Node first): what a boot command runs again, on the same state directory. */
  commandOf(node: string): readonly string[];
  /** SIGKILL one agent, as a crashed node. */
  kill(node: string): Promise<void>;
  stop(): Promise<void>;
}

export interface SimClusterOptions {
  readonly url: string;
  readonly prefix: string;
  readonly statusIntervalMs: number;
  readonly speed: number;
  /** Per node: VM ids or action ids its sim driver fails. */
  readonly failOn?: Readonly<Record<string, readonly string[]>>;
  /** More arguments for every agent (`--sim-usage FILE`, say). */
  readonly agentArgs?: readonly string[];
}

/**
 * One `entropy-agent --driver sim` process per node of an instance, each holding the instance's
 * running and sleeping VMs of its node. Every process is stopped by its pid in `stop()`.
 */
export function startSimCluster(instance: Instance, options: SimClusterOptions): SimCluster {
  const dir = mkdtempSync(join(tmpdir(), 'entropy-executor-'));
  const agents = new Map<string, AgentProcess>();
  const commands = new Map<string, string[]>();
  for (const node of instance.configuration.nodes) {
    const vms = instance.configuration.vms
      .filter((v) => v.host === node.id && (v.state === 'running' || v.state === 'sleeping'))
      .map((v) => ({
        id: v.id,
        vjob: v.vjob,
        state: v.state,
        demand: { cpu: v.demand.cpu ?? 0, mem: v.demand.mem ?? 0 },
      }));
    const file = join(dir, `${node.id}.json`);
    writeFileSync(file, JSON.stringify(vms));
    const capacity = Object.entries(node.capacity)
      .map(([k, q]) => `${k}=${q}`)
      .join(',');
    const args = [
      AGENT_BIN,
      '--node',
      node.id,
      '--nats',
      options.url,
      '--driver',
      'sim',
      '--prefix',
      options.prefix,
      '--capacity',
      capacity,
      '--status-interval',
      String(options.statusIntervalMs),
      '--speed',
      String(options.speed),
      '--sim-vms',
      file,
      '--state-dir',
      join(dir, `state-${node.id}`),
      '--log-level',
      'warn',
    ];
    const fail = options.failOn?.[node.id];
    if (fail?.length) args.push('--sim-fail', fail.join(','));
    if (options.agentArgs) args.push(...options.agentArgs);
    commands.set(node.id, [process.execPath, ...args]);
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    const stderr: string[] = [];
    child.stderr!.on('data', (chunk: Buffer) => stderr.push(chunk.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    agents.set(node.id, { node: node.id, child, stderr, exited });
  }
  return {
    agents,
    commandOf: (node) => commands.get(node)!,
    async kill(node) {
      const a = agents.get(node)!;
      a.child.kill('SIGKILL');
      await a.exited;
    },
    async stop() {
      await Promise.all(
        [...agents.values()].map(async (a) => {
          if (a.child.exitCode !== null || a.child.signalCode !== null) return;
          a.child.kill('SIGTERM');
          const done = await Promise.race([a.exited.then(() => true), delay(10_000).then(() => false)]);
          if (!done) {
            a.child.kill('SIGKILL');
            await a.exited;
          }
        }),
      );
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
