import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import type { NamespaceHost } from './netns-hosts.ts';
import { isRunning, type RecordedProcess, spawnRecorded, stopRecorded } from './recorded-process.ts';

/**
 * A relay: `unix SOCK HOST PORT` serves a unix socket and pipes each connection to HOST:PORT;
 * `tcp PORT SOCK` serves 127.0.0.1:PORT and pipes to the unix socket. It prints `ready` once it listens.
 */
const RELAY = `
const net = require('node:net');
const fs = require('node:fs');
const [mode, a, b, c] = process.argv.slice(1);
const pipe = (dial) => (conn) => { const out = dial(); conn.pipe(out).pipe(conn); conn.on('error', () => out.destroy()); out.on('error', () => conn.destroy()); };
const ready = () => process.stdout.write('ready\\n');
if (mode === 'unix') { fs.rmSync(a, { force: true }); net.createServer(pipe(() => net.createConnection(Number(c), b))).listen(a, ready); }
else net.createServer(pipe(() => net.createConnection(b))).listen(Number(a), '127.0.0.1', ready);
`;

/** Reaches a TCP service of the machine's loopback from inside namespace hosts, without giving them a route to it. */
export interface LoopbackBridge {
  /** `127.0.0.1:<port>` inside each host leads to the service. */
  readonly port: number;
  readonly processes: readonly RecordedProcess[];
  close(): Promise<void>;
}

export interface LoopbackBridgeOptions {
  /** Holds the unix socket and the relays' logs. */
  readonly dir: string;
  /** The service on the machine's loopback. */
  readonly target: { readonly host: string; readonly port: number };
  readonly hosts: readonly NamespaceHost[];
  /** The port the service appears on inside the hosts (default 4222). */
  readonly port?: number;
  /** The relays outlive this process (`entropy lab up`). */
  readonly detached?: boolean;
  /** Called with each relay as soon as it is spawned (the lab records it). */
  readonly started?: (p: RecordedProcess) => void | Promise<void>;
  readonly readyTimeoutMs?: number;
}

/**
 * The agents of a namespace host must reach a nats-server on the machine's loopback. A relay in
 * the machine's namespace serves a unix socket (the file system is shared) that pipes to the
 * service; a relay in each namespace listens on that namespace's loopback and pipes to the socket.
 */
export async function bridgeLoopback(opts: LoopbackBridgeOptions): Promise<LoopbackBridge> {
  const sock = join(opts.dir, 'loopback-bridge.sock');
  const port = opts.port ?? 4222;
  const processes: RecordedProcess[] = [];
  const close = async () => {
    await Promise.all(processes.map((p) => stopRecorded(p, 2000)));
  };
  const start = async (name: string, prefix: readonly string[], args: readonly string[]) => {
    const log = join(opts.dir, `${name}.log`);
    const [file, ...rest] = [...prefix, process.execPath, '-e', RELAY, ...args];
    const { process: p } = spawnRecorded(name, file!, rest, { log, ...(opts.detached ? { detached: true } : {}) });
    processes.push(p);
    await opts.started?.(p);
    await untilReady(p, log, opts.readyTimeoutMs ?? 20_000);
  };
  try {
    await start('relay-loopback', [], ['unix', sock, opts.target.host, String(opts.target.port)]);
    for (const h of opts.hosts) await start(`relay-${h.ns}`, ['ip', 'netns', 'exec', h.ns], ['tcp', String(port), sock]);
  } catch (err) {
    await close();
    throw err;
  }
  return { port, processes, close };
}

async function untilReady(p: RecordedProcess, log: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if ((await readFile(log, 'utf8').catch(() => '')).includes('ready\n')) return;
    if (!isRunning(p)) throw new Error(`${p.name} exited before it listened; see ${log}`);
    if (Date.now() > deadline) throw new Error(`${p.name} not ready within ${timeoutMs} ms; see ${log}`);
    await delay(50);
  }
}
