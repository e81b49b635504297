import { type ChildProcess, spawn } from 'node:child_process';
import { mkdir, mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { EntropyError, ErrorCode } from '@entropy/protocol';

/** A nats-server of our own on a free loopback port: the demo's embedded server, and the integration tests'. */
export interface NatsServer {
  readonly url: string;
  /** The current process's pid (a restart changes it). */
  readonly pid: number;
  /** Directory holding the ports file, the log and the JetStream store. */
  readonly dir: string;
  /** Kills the server with SIGKILL, as a crash: its store stays for `restart`. */
  kill(): Promise<void>;
  /** Starts the server again on the same port with the same store (killing it first if it runs). */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

export interface NatsServerOptions {
  /** Enables JetStream, stored under `dir/js`. */
  readonly jetstream?: boolean;
  /** A config file (`-c`), e.g. with per-user permissions. */
  readonly config?: string;
  readonly args?: readonly string[];
  /** How long to wait for the ports file (default 20 s). */
  readonly startTimeoutMs?: number;
  /** The server's directory (created if missing); a new one under the system's temp dir when absent. */
  readonly dir?: string;
  /** The server outlives this process (`entropy lab up`); its log goes to `dir/server.log` as always. */
  readonly detached?: boolean;
  /** Called with the server's pid as soon as it is spawned (the lab records it). */
  readonly started?: (pid: number) => void;
  /** Runs in this network namespace (`ip netns exec`), listening on `listen` there. */
  readonly netns?: string;
  /** Listen address and port (default 127.0.0.1 and a free port). */
  readonly listen?: { readonly host: string; readonly port: number };
}

interface Running {
  readonly child: ChildProcess;
  readonly exited: Promise<number | null>;
  readonly url: string;
}

/** Throws a one-line error with the install command when the binary is missing. */
export async function startNatsServer(opts: NatsServerOptions = {}): Promise<NatsServer> {
  const dir = opts.dir ?? (await mkdtemp(join(tmpdir(), 'entropy-nats-')));
  if (opts.dir) await mkdir(opts.dir, { recursive: true });
  const args = (port: string) => {
    const a = [
      '-a',
      opts.listen?.host ?? '127.0.0.1',
      '-p',
      port,
      '--ports_file_dir',
      dir,
      '-l',
      join(dir, 'server.log'),
    ];
    if (opts.jetstream) a.push('-js', '-sd', join(dir, 'js'));
    if (opts.config) a.push('-c', opts.config);
    a.push(...(opts.args ?? []));
    return a;
  };
  let current: Running;
  try {
    current = await spawnServer(args(String(opts.listen?.port ?? -1)), dir, opts.startTimeoutMs ?? 20_000, opts);
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
  const url = current.url;
  const port = new URL(url).port;
  const kill = async () => {
    if (current.child.exitCode === null && current.child.signalCode === null) {
      current.child.kill('SIGKILL');
      await current.exited;
    }
  };
  return {
    url,
    get pid() {
      return current.child.pid!;
    },
    dir,
    kill,
    async restart() {
      await kill();
      // The port may stay busy for a moment after the kill: try again for a few seconds.
      const deadline = Date.now() + 10_000;
      for (;;) {
        try {
          current = await spawnServer(args(port), dir, opts.startTimeoutMs ?? 20_000, opts);
          return;
        } catch (err) {
          if (Date.now() > deadline) throw err;
          await delay(200);
        }
      }
    },
    async stop() {
      const { child, exited } = current;
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const killed = await Promise.race([exited.then(() => true), delay(10_000).then(() => false)]);
        if (!killed) {
          child.kill('SIGKILL');
          await exited;
        }
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Spawns nats-server and waits for the ports file it writes once it listens. */
async function spawnServer(
  args: readonly string[],
  dir: string,
  timeoutMs: number,
  opts: Pick<NatsServerOptions, 'detached' | 'started' | 'netns'>,
): Promise<Running> {
  // `ip netns exec` execs nats-server: the pid (and the ports file's name) is the server's.
  const [file, ...rest] = opts.netns
    ? ['ip', 'netns', 'exec', opts.netns, 'nats-server', ...args]
    : ['nats-server', ...args];
  const child: ChildProcess = spawn(file!, rest, { stdio: 'ignore', detached: opts.detached === true });
  if (opts.detached) child.unref();
  if (child.pid !== undefined) opts.started?.(child.pid);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const spawnError = new Promise<Error>((resolve) => child.once('error', resolve));
  const deadline = Date.now() + timeoutMs;
  const portsFile = `nats-server_${child.pid}.ports`;
  for (;;) {
    const failed = await Promise.race([
      spawnError,
      exited.then((c) => new Error(`nats-server exited with ${c}; see ${dir}/server.log`)),
      delay(50).then(() => undefined),
    ]);
    if (failed) {
      const missing = (failed as NodeJS.ErrnoException).code === 'ENOENT';
      throw new EntropyError(
        ErrorCode.Io,
        missing
          ? 'nats-server not found: install it with `apt-get install -y nats-server` (or run `bash scripts/setup.sh`)'
          : failed.message,
      );
    }
    if ((await readdir(dir)).includes(portsFile)) {
      try {
        const url = (JSON.parse(await readFile(join(dir, portsFile), 'utf8')) as { nats: string[] }).nats[0];
        if (url !== undefined) return { child, exited, url };
      } catch {
        // written but not complete yet: read again on the next turn
      }
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new EntropyError(ErrorCode.Io, `nats-server wrote no ports file in ${dir} within ${timeoutMs} ms`);
    }
  }
}
