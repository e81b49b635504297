import { type ChildProcess, spawn } from 'node:child_process';

export const AGENT_BIN = new URL('../../packages/agent/bin/entropy-agent.js', import.meta.url).pathname;

/** An `entropy-agent` process and its pino lines, parsed as they come. */
export interface AgentProcess {
  readonly child: ChildProcess;
  readonly logs: Record<string, unknown>[];
  readonly exited: Promise<number | null>;
}

/** `env` adds to this process's environment (credentials, for instance). */
export function spawnAgent(args: readonly string[], env: Readonly<Record<string, string>> = {}): AgentProcess {
  const child = spawn(process.execPath, [AGENT_BIN, ...args], {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, ...env },
  });
  const logs: Record<string, unknown>[] = [];
  let buf = '';
  child.stderr!.on('data', (chunk: Buffer) => {
    buf += chunk.toString();
    const lines = buf.split('\n');
    buf = lines.pop()!;
    for (const l of lines) {
      try {
        logs.push(JSON.parse(l) as Record<string, unknown>);
      } catch {
        logs.push({ raw: l });
      }
    }
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, logs, exited };
}

/** `kill -9`, as a crashed agent; resolves once the process is gone. */
export async function killAgent(agent: AgentProcess): Promise<void> {
  if (agent.child.exitCode === null && agent.child.signalCode === null) agent.child.kill('SIGKILL');
  await agent.exited;
}
