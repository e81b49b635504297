import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { EntropyError, ErrorCode } from '../errors.ts';

/** A nats-server of our own on a free loopback port: the demo's embedded server, and the integration tests'. */
export interface NatsServer {
  readonly url: string;
  readonly pid: number;
  /** Directory holding the ports file, the log and the JetStream store. */
  readonly dir: string;
  stop(): Promise<void>;
}

export interface NatsServerOptions {
  /** Enables JetStream, stored under `dir/js` unless `storeDir` says otherwise. */
  readonly jetstream?: boolean;
  /** The JetStream store: another server's `dir/js` brings its streams back, as after a crash. */
  readonly storeDir?: string;
  /** A fixed port instead of a free one, e.g. where a killed server's clients reconnect. */
  readonly port?: number;
  /** A config file (`-c`), e.g. with per-user permissions. */
  readonly config?: string;
  readonly args?: readonly string[];
  /** How long to wait for the ports file (default 20 s). */
  readonly startTimeoutMs?: number;
}

/** Throws a one-line error with the install command when the binary is missing. */
export async function startNatsServer(opts: NatsServerOptions = {}): Promise<NatsServer> {
  const dir = await mkdtemp(join(tmpdir(), 'entropy-nats-'));
  const args = ['-a', '127.0.0.1', '-p', String(opts.port ?? -1), '--ports_file_dir', dir, '-l', join(dir, 'server.log')];
  if (opts.jetstream) args.push('-js', '-sd', opts.storeDir ?? join(dir, 'js'));
  if (opts.config) args.push('-c', opts.config);
  args.push(...(opts.args ?? []));
  const child: ChildProcess = spawn('nats-server', args, { stdio: 'ignore' });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const spawnError = new Promise<Error>((resolve) => child.once('error', resolve));
  const deadline = Date.now() + (opts.startTimeoutMs ?? 20_000);
  let url: string | undefined;
  while (url === undefined) {
    const failed = await Promise.race([spawnError, exited.then((c) => new Error(`nats-server exited with ${c}; see ${dir}/server.log`)), delay(50).then(() => undefined)]);
    if (failed) {
      await rm(dir, { recursive: true, force: true });
      const missing = (failed as NodeJS.ErrnoException).code === 'ENOENT';
      throw new EntropyError(ErrorCode.Io, missing ? 'nats-server not found: install it with `apt-get install -y nats-server` (or run `bash scripts/setup.sh`)' : failed.message);
    }
    const ports = (await readdir(dir)).find((f) => f === `nats-server_${child.pid}.ports`);
    if (ports) {
      try {
        url = (JSON.parse(await readFile(join(dir, ports), 'utf8')) as { nats: string[] }).nats[0];
      } catch {
        // written but not complete yet: read again on the next turn
      }
    }
    if (url === undefined && Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new EntropyError(ErrorCode.Io, `nats-server wrote no ports file in ${dir} within ${opts.startTimeoutMs ?? 20_000} ms`);
    }
  }
  return {
    url,
    pid: child.pid!,
    dir,
    async stop() {
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
