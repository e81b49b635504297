import { setTimeout as sleep } from 'node:timers/promises';
import {
  decode,
  encodeControl,
  type PlanProgress,
  type QueueReply,
  type StatusReply,
  subjects,
} from '@entropy/protocol';
import { askController, connectNats, DEFAULT_CONTROL_TIMEOUT_MS } from '../controller/nats-connect.ts';
import type { CommandResult } from '../command-io/io.ts';
import { formatQueue } from './queue-command.ts';
import type { ControlClientOptions } from './queue-request.ts';
import { nodeTable, statusHeadline } from './status-command.ts';

export const DEFAULT_WATCH_INTERVAL_MS = 2000;

export interface StatusWatchOptions extends ControlClientOptions {
  /** Time between snapshots (default 2 s). */
  readonly interval?: number;
  /** Stop after this many snapshots (tests); SIGINT (the io's signal) otherwise. */
  readonly maxIterations?: number;
}

/** Where the snapshots go and what time it is: the terminal and the clock, or a test's. */
export interface WatchIo {
  write(text: string): void;
  /** Clear the screen and redraw (a terminal), or print the snapshots one after another, a blank line apart. */
  readonly tty: boolean;
  now(): number;
  /** Resolves after `ms`, or at once when the signal fires. */
  sleep(ms: number, signal: AbortSignal): Promise<void>;
  /** Stops the watch (SIGINT). */
  readonly signal: AbortSignal;
}

const CLEAR = '\x1b[2J\x1b[H';

function processIo(): WatchIo {
  const stop = new AbortController();
  process.once('SIGINT', () => stop.abort());
  return {
    write: (text) => void process.stdout.write(text),
    tty: process.stdout.isTTY === true,
    now: Date.now,
    sleep: (ms, signal) => sleep(ms, undefined, { signal }).catch(() => {}),
    signal: stop.signal,
  };
}

/**
 * `entropy status --watch`: every interval, the nodes (status), the vjobs (queue) and the running
 * plan's progress (its progress messages, followed all along), redrawn on a terminal, printed one
 * snapshot after another otherwise. One connection for the whole watch; a controller that does not
 * answer is one line of the snapshot, and the watch goes on (a standby may take over).
 */
export async function statusWatch(options: StatusWatchOptions = {}, io: WatchIo = processIo()): Promise<CommandResult> {
  const s = subjects(options.prefix);
  const nc = await connectNats(options, 'entropy-status-watch');
  const url = options.nats ?? nc.getServer();
  const interval = options.interval ?? DEFAULT_WATCH_INTERVAL_MS;
  const latest = new Map<string, { first: PlanProgress; last: PlanProgress }>();
  const progress = nc.subscribe(s.allPlanProgress(), {
    callback: (_err, m) => {
      const r = decode('progress', m.data);
      if (!r.ok) return;
      const seen = latest.get(r.msg.planId);
      latest.set(r.msg.planId, { first: seen?.first ?? r.msg, last: r.msg });
    },
  });
  const to = { subjects: s, url };
  const timeout = options.timeout ?? DEFAULT_CONTROL_TIMEOUT_MS;
  try {
    for (let i = 0; options.maxIterations === undefined || i < options.maxIterations; i++) {
      if (io.signal.aborted) break;
      const [status, queue] = await Promise.all([
        askController(nc, to, 'status', encodeControl('statusRequest', {}), 'statusReply', timeout).catch(
          (err: Error) => err,
        ),
        askController(nc, to, 'queue', encodeControl('queueRequest', {}), 'queueReply', timeout).catch(
          (err: Error) => err,
        ),
      ]);
      const running = status instanceof Error ? undefined : status.running;
      const text = formatSnapshot({
        at: io.now(),
        interval,
        status,
        queue,
        plan: running !== undefined ? { id: running, ...latest.get(running) } : undefined,
      });
      io.write(io.tty ? `${CLEAR}${text}\n` : `${i > 0 ? '\n' : ''}${text}\n`);
      if (options.maxIterations !== undefined && i + 1 >= options.maxIterations) break;
      await io.sleep(interval, io.signal);
    }
  } finally {
    progress.unsubscribe();
    await nc.close();
  }
  return { output: '', exitCode: 0 };
}

export interface Snapshot {
  readonly at: number;
  readonly interval: number;
  readonly status: StatusReply | Error;
  readonly queue: QueueReply | Error;
  /** The running plan, and its first and latest progress messages when some were seen. */
  readonly plan?: { readonly id: string; readonly first?: PlanProgress; readonly last?: PlanProgress };
}

/** One screen of the watch: the time, the nodes, the vjobs, the running plan. */
export function formatSnapshot(snap: Snapshot): string {
  const out = [
    `entropy status --watch, every ${(snap.interval / 1000).toFixed(1)} s: ${new Date(snap.at).toISOString()}`,
    '',
  ];
  if (snap.status instanceof Error) out.push(`status: ${snap.status.message}`);
  else out.push(statusHeadline(snap.status), '', ...nodeTable(snap.status));
  out.push('');
  if (snap.queue instanceof Error) out.push(`queue: ${snap.queue.message}`);
  else
    out.push(
      snap.queue.ok ? formatQueue(snap.queue) : `queue refused (${snap.queue.error.code}): ${snap.queue.error.message}`,
    );
  out.push('', planLine(snap));
  return out.join('\n');
}

function planLine(snap: Snapshot): string {
  const plan = snap.plan;
  if (!plan) return 'no plan running';
  const p = plan.last;
  if (!p) return `plan ${plan.id}: running (no progress seen yet)`;
  const c = p.counts;
  const since = plan.first ? ` for ${((p.ts - plan.first.ts) / 1000).toFixed(1)} s` : '';
  const step = p.step !== undefined ? `, step ${p.step}` : '';
  return `plan ${plan.id}: ${c.done}/${c.total} actions done, ${c.running} running, ${c.failed} failed${step}${since}`;
}
