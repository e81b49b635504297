/**
 * The executor bench's processes: the nats-server and the agent-group children (executor-agents.ts).
 * Every one is recorded by pid when started and stopped in `stop()`; a SIGINT or SIGTERM of the
 * bench while they run kills them first, so that no server or agent outlives the bench.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { setTimeout as delay } from 'node:timers/promises';
import { type NatsServer, startNatsServer } from '../../controller/src/cluster/nats-server.ts';
import type { AgentGroupTask, FromAgentGroup, ToAgentGroup } from './executor-agents.ts';

const CHILD = fileURLToPath(new URL('./executor-agents.ts', import.meta.url));
const READY_TIMEOUT_MS = 60_000;
const STOP_GRACE_MS = 5_000;

export interface AgentGroup {
  readonly pid: number;
  readonly nodes: readonly string[];
  /** Sends a command and resolves with the child's next message. */
  ask(command: ToAgentGroup, timeoutMs: number): Promise<FromAgentGroup>;
  stop(): Promise<void>;
}

/** What the bench started and has not stopped yet, for the signal handler. */
const live = { server: undefined as NatsServer | undefined, children: new Set<ChildProcess>() };

function killEverything(signal: NodeJS.Signals): void {
  for (const child of live.children) child.kill('SIGKILL');
  if (live.server) {
    try {
      process.kill(live.server.pid, 'SIGKILL');
    } catch {
      // already gone
    }
    rmSync(live.server.dir, { recursive: true, force: true });
  }
  process.exit(signal === 'SIGINT' ? 130 : 143);
}

/** Runs `body` with a nats-server of its own; the server and every agent group are gone when it returns or throws. */
export async function withNatsServer<T>(body: (server: NatsServer) => Promise<T>): Promise<T> {
  const onSignal = (signal: NodeJS.Signals) => killEverything(signal);
  process.on('SIGINT', onSignal).on('SIGTERM', onSignal);
  try {
    live.server = await startNatsServer({ jetstream: true });
    return await body(live.server);
  } finally {
    await Promise.allSettled([...live.children].map((c) => stopChild(c)));
    await live.server?.stop();
    live.server = undefined;
    process.off('SIGINT', onSignal).off('SIGTERM', onSignal);
  }
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode === null && child.signalCode === null) {
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    if (child.connected) child.send({ kind: 'stop' } satisfies ToAgentGroup);
    else child.kill('SIGTERM');
    if (!(await Promise.race([exited.then(() => true), delay(STOP_GRACE_MS).then(() => false)]))) {
      child.kill('SIGKILL');
      await exited;
    }
  }
  live.children.delete(child);
}

/** Starts one child holding the agents of `task.nodes`; resolves once all of them are announced. */
export async function startAgentGroup(task: AgentGroupTask): Promise<AgentGroup> {
  const child = spawn(
    process.execPath,
    [
      ...(process.env.ENTROPY_BENCH_PROF ? ['--cpu-prof', '--cpu-prof-dir=' + process.env.ENTROPY_BENCH_PROF] : []),
      '--import',
      'tsx',
      CHILD,
      JSON.stringify(task),
    ],
    { stdio: ['ignore', 'ignore', 'pipe', 'ipc'] },
  );
  live.children.add(child);
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-2000)));
  const exited = new Promise<string>((resolve) =>
    child.once('exit', (code, signal) =>
      resolve(`agent group exited (${signal ?? code}): ${stderr.trim().split('\n').slice(-3).join(' | ')}`),
    ),
  );
  const next = (timeoutMs: number) =>
    new Promise<FromAgentGroup>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`agent group ${task.nodes[0]}..: no answer within ${timeoutMs} ms`)),
        timeoutMs,
      );
      child.once('message', (m: FromAgentGroup) => {
        clearTimeout(timer);
        resolve(m);
      });
      void exited.then((why) => {
        clearTimeout(timer);
        reject(new Error(why));
      });
    });
  const group: AgentGroup = {
    pid: child.pid!,
    nodes: task.nodes,
    async ask(command, timeoutMs) {
      const answer = next(timeoutMs);
      child.send(command);
      return answer;
    },
    stop: () => stopChild(child),
  };
  const first = await next(READY_TIMEOUT_MS);
  if (first.kind !== 'ready')
    throw new Error(first.kind === 'error' ? first.message : `agent group: unexpected ${first.kind}`);
  return group;
}
