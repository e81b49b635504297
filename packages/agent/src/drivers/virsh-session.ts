import { type ChildProcess, spawn } from 'node:child_process';
import { ActionErrorCode } from '@entropy/protocol';
import { DriverError } from './driver.ts';
import type { CommandOutput } from './exec.ts';

/**
 * `virsh` sessions kept open: virsh reads commands on its standard input (its interactive shell)
 * over one connection to libvirtd. A command then costs a line written and libvirt's own work
 * (a few ms for a pause), instead of a process started, linked and connected (150-450 ms on a
 * busy 2-core machine, and uneven): what keeps a vjob's pauses together.
 *
 * One command at a time per session; the pool hands each command an idle session and starts more
 * when all are busy (a save or a migration holds one for seconds), up to `max`; `warm` idle
 * sessions are kept ready, at most twice as many idle ones are kept. After a command, virsh is told to `echo` a marker: the output up to the
 * marker is the command's, and a line `error: ...` in it is its failure (stderr is merged into
 * stdout, so the order holds).
 */
export interface VirshSessionsOptions {
  readonly virsh?: string;
  /** `virsh -c URI`; virsh's default when absent. */
  readonly uri?: string;
  /** Idle sessions kept ready (default 4). */
  readonly warm?: number;
  /** Sessions at most; further commands wait for one (default 16). */
  readonly max?: number;
  readonly env?: NodeJS.ProcessEnv;
}

export const DEFAULT_VIRSH_SESSIONS = 4;
const DEFAULT_MAX_SESSIONS = 16;
const PROMPT = 'virsh # ';
/** How long after a session is taken the idle ones are made up again. */
const TOP_UP_DELAY_MS = 50;

export interface VirshSessions {
  /** Runs one virsh command (the arguments after `-c URI`); rejects with a DriverError as the exec runner does. */
  run(args: readonly string[], opts?: { timeoutMs?: number }): Promise<CommandOutput>;
  close(): Promise<void>;
}

/** A command line virsh's shell reads back as these arguments: each one single-quoted. Undefined when one cannot be. */
export function virshShellLine(args: readonly string[]): string | undefined {
  if (args.some((a) => a.includes("'") || a.includes('\n'))) return undefined;
  return args.map((a) => `'${a}'`).join(' ');
}

/**
 * The output of one command, prompts and the echoed input removed (the prompt before the input may
 * have come with the previous command's output); `error` when virsh reported one.
 */
export function parseSessionOutput(text: string, input: string): { stdout: string; error?: string } {
  const lines = text.split('\n').filter((l) => l !== input && !l.startsWith(PROMPT) && l !== PROMPT.trimEnd());
  const errors = lines.filter((l) => l.startsWith('error: '));
  const stdout = lines.join('\n').trim();
  return errors.length > 0 ? { stdout, error: errors.join(' | ') } : { stdout };
}

interface Pending {
  readonly markerAt: RegExp;
  /** The command line written, and as errors show it. */
  readonly input: string;
  readonly line: string;
  readonly resolve: (out: CommandOutput) => void;
  readonly reject: (err: Error) => void;
  readonly timer?: NodeJS.Timeout;
}

class Session {
  private readonly child: ChildProcess;
  private buffer = '';
  private pending: Pending | undefined;
  private seq = 0;
  dead = false;

  constructor(
    private readonly command: readonly string[],
    env: NodeJS.ProcessEnv | undefined,
    private readonly onExit: (s: Session) => void,
  ) {
    // `exec ... 2>&1`: one stream, so an error line comes before the marker that follows it.
    this.child = spawn('sh', ['-c', 'exec "$0" "$@" 2>&1', ...command], {
      stdio: ['pipe', 'pipe', 'ignore'],
      env: env ?? process.env,
    });
    this.child.stdout!.setEncoding('utf8');
    this.child.stdout!.on('data', (d: string) => this.read(d));
    this.child.stdin!.on('error', () => {});
    this.child.once('error', (err) =>
      this.fail(
        new DriverError(ActionErrorCode.DriverFailed, `${this.command.join(' ')}: ${err.message}`, { cause: err }),
      ),
    );
    this.child.once('exit', (code, sig) =>
      this.fail(
        new DriverError(ActionErrorCode.DriverFailed, `${this.command.join(' ')}: session exited (${code ?? sig})`),
      ),
    );
  }

  run(args: readonly string[], line: string, timeoutMs: number): Promise<CommandOutput> {
    return new Promise((resolve, reject) => {
      const marker = `ENTROPY-END-${++this.seq}`;
      const shown = [...this.command, ...args].join(' ');
      const timer =
        timeoutMs > 0
          ? setTimeout(() => {
              this.fail(new DriverError(ActionErrorCode.DriverTimeout, `${shown}: killed after ${timeoutMs} ms`));
              this.kill();
            }, timeoutMs)
          : undefined;
      this.pending = {
        markerAt: new RegExp(`\\n${marker}(?![0-9])`),
        input: line,
        line: shown,
        resolve,
        reject,
        ...(timer ? { timer } : {}),
      };
      // A leading newline: the marker may open the buffer when virsh echoes no input and prints nothing.
      this.buffer = '\n';
      this.child.stdin!.write(`${line}\necho ${marker}\n`);
    });
  }

  private read(chunk: string): void {
    const p = this.pending;
    if (!p) return; // the banner or a prompt between commands
    // The marker opens a line (the echoed `echo MARKER` does not); with -q, virsh's echo prints no
    // newline after it, and the next prompt follows at once.
    this.buffer += chunk;
    const end = this.buffer.search(p.markerAt);
    if (end < 0) return;
    const { stdout, error } = parseSessionOutput(this.buffer.slice(0, end), p.input);
    this.settle();
    if (error === undefined) p.resolve({ stdout, stderr: '' });
    else p.reject(new DriverError(ActionErrorCode.DriverFailed, `${p.line} failed: ${error}`));
  }

  private settle(): void {
    if (this.pending?.timer) clearTimeout(this.pending.timer);
    this.pending = undefined;
    this.buffer = '';
  }

  private fail(err: Error): void {
    const p = this.pending;
    this.settle();
    if (!this.dead) {
      this.dead = true;
      this.onExit(this);
    }
    p?.reject(err);
  }

  kill(): void {
    this.dead = true;
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
  }

  async end(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise((resolve) => this.child.once('exit', resolve));
    this.child.stdin!.end();
    const timer = setTimeout(() => this.kill(), 2000);
    await exited;
    clearTimeout(timer);
  }
}

export function virshSessions(opts: VirshSessionsOptions = {}): VirshSessions {
  const command = [opts.virsh ?? 'virsh', '-q', ...(opts.uri ? ['-c', opts.uri] : [])];
  const warm = opts.warm ?? DEFAULT_VIRSH_SESSIONS;
  const max = Math.max(1, opts.max ?? DEFAULT_MAX_SESSIONS);
  const all = new Set<Session>();
  let idle: Session[] = [];
  const waiting: ((s: Session) => void)[] = [];
  let closed = false;

  const start = (): Session => {
    const s = new Session(command, opts.env, (gone) => {
      all.delete(gone);
      idle = idle.filter((x) => x !== gone);
    });
    all.add(s);
    return s;
  };
  const topUp = () => {
    while (!closed && idle.length < warm && all.size < max) idle.push(start());
  };
  let topping: NodeJS.Timeout | undefined;
  const topUpSoon = () => {
    topping ??= setTimeout(() => {
      topping = undefined;
      topUp();
    }, TOP_UP_DELAY_MS);
  };
  const acquire = (): Promise<Session> => {
    const s = idle.pop();
    if (s) {
      // The next commands should find one ready too; but starting a process blocks this one for
      // milliseconds: not while the other commands of a burst (a vjob's pauses) are being sent.
      topUpSoon();
      return Promise.resolve(s);
    }
    if (all.size < max) return Promise.resolve(start());
    return new Promise((resolve) => waiting.push(resolve));
  };
  const release = (s: Session, healthy: boolean) => {
    if (!healthy || s.dead) {
      // After a failure the session's state is unknown (a reconnect half done): a fresh one replaces it.
      s.kill();
      all.delete(s);
      const next = waiting.shift();
      if (next && !closed) next(start());
      else topUp();
      return;
    }
    const next = waiting.shift();
    if (next) return next(s);
    // Kept rather than the fresh one topUp started meanwhile (idle is taken last in, first out): up to twice `warm`.
    if (idle.length >= Math.max(1, 2 * warm)) {
      all.delete(s);
      void s.end();
    } else idle.push(s);
  };

  topUp();
  return {
    async run(args, call = {}) {
      if (closed) throw new DriverError(ActionErrorCode.ShuttingDown, 'virsh sessions closed');
      const line = virshShellLine(args);
      if (line === undefined)
        throw new DriverError(
          ActionErrorCode.DriverFailed,
          `virsh ${args.join(' ')}: an argument holds a quote or a newline`,
          { final: true },
        );
      const s = await acquire();
      let healthy = false;
      try {
        const out = await s.run(args, line, call.timeoutMs ?? 0);
        healthy = true;
        return out;
      } finally {
        release(s, healthy);
      }
    },
    async close() {
      closed = true;
      if (topping) clearTimeout(topping);
      const sessions = [...all];
      all.clear();
      idle = [];
      await Promise.all(sessions.map((s) => s.end()));
    },
  };
}
