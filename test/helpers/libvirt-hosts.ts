import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { createConnection, createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { promisify } from 'node:util';

const exec = promisify(execFile);

export interface TestHost {
  /** Network namespace name. */
  readonly ns: string;
  /** Its address on the test bridge. */
  readonly addr: string;
}

export interface TestHosts {
  readonly hosts: readonly TestHost[];
  /** Removes every namespace created, by the names recorded (their interfaces go with them). */
  remove(): Promise<void>;
}

const ip = (args: readonly string[]) => exec('ip', args, { timeout: 30_000 });

/**
 * N hosts on one bridge, each a network namespace: `<prefix>sw` holds the bridge, `<prefix>h<i>` the
 * host with eth0 at 10.200.0.<11+i>/24. The machine's own namespace gets no interface and no address;
 * names carry the run's prefix, so parallel runs do not collide.
 */
export async function createTestHosts(prefix: string, n: number): Promise<TestHosts> {
  const created: string[] = [];
  const remove = async () => {
    for (const ns of created.reverse()) await ip(['netns', 'delete', ns]).catch(() => {});
    created.length = 0;
  };
  const hosts: TestHost[] = [];
  try {
    const sw = `${prefix}sw`;
    await ip(['netns', 'add', sw]);
    created.push(sw);
    await ip(['-n', sw, 'link', 'add', 'br0', 'type', 'bridge']);
    await ip(['-n', sw, 'link', 'set', 'br0', 'up']);
    for (let i = 0; i < n; i++) {
      const ns = `${prefix}h${i}`;
      const addr = `10.200.0.${11 + i}`;
      await ip(['netns', 'add', ns]);
      created.push(ns);
      await ip(['link', 'add', `vb${i}`, 'netns', sw, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns]);
      await ip(['-n', sw, 'link', 'set', `vb${i}`, 'master', 'br0']);
      await ip(['-n', sw, 'link', 'set', `vb${i}`, 'up']);
      await ip(['-n', ns, 'addr', 'add', `${addr}/24`, 'dev', 'eth0']);
      await ip(['-n', ns, 'link', 'set', 'eth0', 'up']);
      await ip(['-n', ns, 'link', 'set', 'lo', 'up']);
      hosts.push({ ns, addr });
    }
  } catch (err) {
    await remove();
    throw err;
  }
  return { hosts, remove };
}

/** Reaches a TCP service of the machine's loopback from inside test hosts, without giving them a route to it. */
export interface LoopbackBridge {
  /** `127.0.0.1:<port>` inside each host leads to the service. */
  readonly port: number;
  close(): Promise<void>;
}

/** One relay process per host: relay.js inside the namespace pipes 127.0.0.1:port to a unix socket the test serves. */
const RELAY = `
const net = require('node:net');
const [sock, port] = process.argv.slice(1);
net.createServer((c) => { const u = net.createConnection(sock); c.pipe(u).pipe(c); c.on('error', () => u.destroy()); u.on('error', () => c.destroy()); })
  .listen(Number(port), '127.0.0.1', () => process.stdout.write('ready\\n'));
`;

/**
 * The agents of a test host must reach the test's nats-server on the machine's loopback. The test serves
 * a unix socket (the file system is shared) that pipes to the service; a relay in each namespace listens
 * on that namespace's loopback and pipes to the unix socket.
 */
export async function bridgeLoopback(dir: string, target: { host: string; port: number }, hosts: readonly TestHost[], port = 4222): Promise<LoopbackBridge> {
  const sock = join(dir, 'loopback-bridge.sock');
  const server: Server = createServer((c) => {
    const t = createConnection(target.port, target.host);
    c.pipe(t).pipe(c);
    c.on('error', () => t.destroy());
    t.on('error', () => c.destroy());
  });
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(sock, resolve));
  const relays: ChildProcess[] = [];
  const close = async () => {
    for (const r of relays) if (r.exitCode === null && r.signalCode === null) r.kill('SIGKILL');
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await rm(sock, { force: true });
  };
  try {
    for (const h of hosts) {
      const r = spawn('ip', ['netns', 'exec', h.ns, process.execPath, '-e', RELAY, sock, String(port)], { stdio: ['ignore', 'pipe', 'inherit'] });
      relays.push(r);
      await Promise.race([
        new Promise<void>((resolve) => r.stdout!.once('data', () => resolve())),
        new Promise<void>((_, reject) => r.once('exit', (code) => reject(new Error(`loopback relay in ${h.ns} exited with ${code}`)))),
        delay(20_000).then(() => Promise.reject(new Error(`loopback relay in ${h.ns} not ready in 20 s`))),
      ]);
    }
  } catch (err) {
    await close();
    throw err;
  }
  return { port, close };
}
