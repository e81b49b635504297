import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import type { NamespaceHost } from './netns-hosts.ts';
import { isRunning, type RecordedProcess, spawnRecorded, stopRecorded } from './recorded-process.ts';

/**
 * A relay: `unix SOCK HOST PORT` serves a unix socket and pipes each connection to HOST:PORT;
 * `tcp PORT SOCK` serves 127.0.0.1:PORT (0: a free port) and pipes to the unix socket. It prints
 * `ready PORT` once it listens. A unix socket is a file: it joins network namespaces.
 */
const RELAY = `
const net = require('node:net');
const fs = require('node:fs');
const [mode, a, b, c] = process.argv.slice(1);
const pipe = (dial) => (conn) => { const out = dial(); conn.setNoDelay?.(true); out.setNoDelay?.(true); conn.pipe(out).pipe(conn); conn.on('error', () => out.destroy()); out.on('error', () => conn.destroy()); };
const ready = (server) => () => process.stdout.write('ready ' + (server.address().port ?? 0) + '\\n');
if (mode === 'unix') { fs.rmSync(a, { force: true }); const s = net.createServer(pipe(() => net.createConnection(Number(c), b))); s.listen(a, ready(s)); }
else { const s = net.createServer(pipe(() => net.createConnection(b))); s.listen(Number(a), '127.0.0.1', ready(s)); }
`;

/** Relays between namespaces, and the port they serve on a loopback. */
export interface Relays {
  readonly port: number;
  readonly processes: readonly RecordedProcess[];
  close(): Promise<void>;
}

interface RelayOptions {
  /** Holds the unix socket and the relays' logs. */
  readonly dir: string;
  /** The relays outlive this process (`entropy lab up`). */
  readonly detached?: boolean;
  /** Called with each relay as soon as it is spawned (the lab records it). */
  readonly started?: (p: RecordedProcess) => void | Promise<void>;
  readonly readyTimeoutMs?: number;
}

/** Starts relays one after the other (each ready before the next); on a failure stops those started. */
async function startRelays(
  opts: RelayOptions,
  relays: readonly { name: string; ns?: string; args: readonly string[] }[],
): Promise<{ ports: number[]; processes: RecordedProcess[] }> {
  const processes: RecordedProcess[] = [];
  const ports: number[] = [];
  try {
    for (const r of relays) {
      const log = join(opts.dir, `${r.name}.log`);
      const [file, ...rest] = [
        ...(r.ns ? ['ip', 'netns', 'exec', r.ns] : []),
        process.execPath,
        '-e',
        RELAY,
        ...r.args,
      ];
      const { process: p } = spawnRecorded(r.name, file!, rest, { log, ...(opts.detached ? { detached: true } : {}) });
      processes.push(p);
      await opts.started?.(p);
      ports.push(await untilReady(p, log, opts.readyTimeoutMs ?? 20_000));
    }
  } catch (err) {
    await Promise.all(processes.map((p) => stopRecorded(p, 2000)));
    throw err;
  }
  return { ports, processes };
}

export interface LoopbackBridgeOptions extends RelayOptions {
  /** The service on the machine's loopback. */
  readonly target: { readonly host: string; readonly port: number };
  readonly hosts: readonly NamespaceHost[];
  /** The port the service appears on inside the hosts (default 4222). */
  readonly port?: number;
}

/**
 * The agents of namespace hosts reach a nats-server on the machine's loopback: a relay in the
 * machine's namespace serves a unix socket that pipes to the service; a relay in each namespace
 * listens on that namespace's loopback and pipes to the socket.
 */
export async function bridgeLoopback(opts: LoopbackBridgeOptions): Promise<Relays> {
  const sock = join(opts.dir, 'loopback-bridge.sock');
  const port = opts.port ?? 4222;
  const { processes } = await startRelays(opts, [
    { name: 'relay-loopback', args: ['unix', sock, opts.target.host, String(opts.target.port)] },
    ...opts.hosts.map((h) => ({ name: `relay-${h.ns}`, ns: h.ns, args: ['tcp', String(port), sock] })),
  ]);
  return { port, processes, close: () => stopAll(processes) };
}

export interface ExposeOptions extends RelayOptions {
  /** The namespace of the service, and its address there. */
  readonly ns: string;
  readonly target: { readonly host: string; readonly port: number };
}

/**
 * The other way: a service inside a namespace appears on the machine's loopback (a free port), for
 * the commands a user runs there. A relay in the namespace serves a unix socket piping to the
 * service; one in the machine's namespace listens on 127.0.0.1 and pipes to the socket.
 */
export async function exposeOnLoopback(opts: ExposeOptions): Promise<Relays> {
  const sock = join(opts.dir, `expose-${opts.ns}.sock`);
  const { ports, processes } = await startRelays(opts, [
    { name: `relay-${opts.ns}`, ns: opts.ns, args: ['unix', sock, opts.target.host, String(opts.target.port)] },
    { name: 'relay-loopback', args: ['tcp', '0', sock] },
  ]);
  return { port: ports[1]!, processes, close: () => stopAll(processes) };
}

async function stopAll(processes: readonly RecordedProcess[]): Promise<void> {
  await Promise.all(processes.map((p) => stopRecorded(p, 2000)));
}

async function untilReady(p: RecordedProcess, log: string, timeoutMs: number): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const m = /^ready (\d+)$/m.exec(await readFile(log, 'utf8').catch(() => ''));
    if (m) return Number(m[1]);
    if (!isRunning(p)) throw new Error(`${p.name} exited before it listened; see ${log}`);
    if (Date.now() > deadline) throw new Error(`${p.name} not ready within ${timeoutMs} ms; see ${log}`);
    await delay(50);
  }
}
