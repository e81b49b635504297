import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startNatsServer } from '../../controller/src/cluster/nats-server.ts';
import { ENTROPY_BIN, startProcess } from '../../controller/src/cluster/processes.ts';
import { workspacePath } from '../../controller/src/workspace.ts';
import { median, table } from './format.ts';
import type { BenchOptions, BenchSuite, SuiteResult } from './suite.ts';

/** Wall-time targets of the compiled commands on this machine (issue 15), and how many runs each median takes. */
export const STARTUP_TARGETS_MS = { plan: 400, status: 500 } as const;
const RUNS_PER_REPEAT = 7;

interface CommandTiming {
  readonly command: string;
  readonly wallMs: number;
  /** The median, over pairs run back to back, of the command's wall time over `node -e 0`'s. */
  readonly ratio: number;
  readonly nodeMs: number;
  readonly targetMs?: number;
  readonly ok: boolean;
}

function wallMsOf(args: readonly string[]): number {
  const started = process.hrtime.bigint();
  const r = spawnSync(process.execPath, args, { stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' });
  const elapsed = Number(process.hrtime.bigint() - started) / 1e6;
  if (r.status !== 0) throw new Error(`node ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  return elapsed;
}

/** A and `node -e 0` in turn, so that the ratio is taken on a machine in the same mood. */
function timeAgainstBareNode(command: string, args: readonly string[], runs: number, targetMs?: number): CommandTiming {
  wallMsOf(args); // warm the page cache
  const walls: number[] = [];
  const bare: number[] = [];
  const ratios: number[] = [];
  for (let i = 0; i < runs; i++) {
    const a = wallMsOf(args);
    const b = wallMsOf(['-e', '0']);
    walls.push(a);
    bare.push(b);
    ratios.push(a / b);
  }
  const wallMs = median(walls);
  return {
    command,
    wallMs,
    ratio: median(ratios),
    nodeMs: median(bare),
    targetMs,
    ok: targetMs === undefined || wallMs <= targetMs,
  };
}

async function agentBundleShape(): Promise<{ files: number; bytes: number }> {
  const dist = workspacePath('packages/agent/dist');
  const files = (await readdir(dist)).filter((f) => f.endsWith('.js'));
  let bytes = 0;
  for (const f of files) bytes += (await stat(join(dist, f))).size;
  return { files: files.length, bytes };
}

async function run(options: BenchOptions): Promise<SuiteResult> {
  options.progress('startup: building the commands (scripts/build.mjs)');
  execFileSync(process.execPath, [workspacePath('scripts/build.mjs'), '--quiet'], { stdio: 'inherit' });
  const runs = RUNS_PER_REPEAT * Math.max(1, options.repeat);
  const timings: CommandTiming[] = [];
  options.progress(`startup: entropy plan examples/small.json, ${runs} runs`);
  timings.push(
    timeAgainstBareNode(
      'entropy plan examples/small.json',
      [ENTROPY_BIN, 'plan', workspacePath('examples/small.json')],
      runs,
      STARTUP_TARGETS_MS.plan,
    ),
  );
  timings.push(timeAgainstBareNode('entropy --help', [ENTROPY_BIN, '--help'], runs));

  const dir = await mkdtemp(join(tmpdir(), 'entropy-bench-startup-'));
  const nats = await startNatsServer({ jetstream: true });
  const controller = startProcess(
    'controller',
    ENTROPY_BIN,
    ['controller', '--nats', nats.url, '--queue-store', 'memory'],
    join(dir, 'controller.log'),
  );
  try {
    const status = [ENTROPY_BIN, 'status', '--nats', nats.url];
    for (let deadline = Date.now() + 60_000; ; ) {
      if (spawnSync(process.execPath, status, { stdio: 'ignore' }).status === 0) break;
      if (Date.now() > deadline) throw new Error(`the controller did not answer within 60 s; see ${controller.log}`);
    }
    options.progress(`startup: entropy status against a running controller, ${runs} runs`);
    timings.push(timeAgainstBareNode('entropy status', status, runs, STARTUP_TARGETS_MS.status));
  } finally {
    await controller.stop();
    await nats.stop();
    await rm(dir, { recursive: true, force: true });
  }
  const bundle = await agentBundleShape();
  const rows = timings.map((t) => [
    t.command,
    String(Math.round(t.wallMs)),
    String(Math.round(t.nodeMs)),
    t.ratio.toFixed(2),
    t.targetMs === undefined ? '-' : `${t.targetMs} ${t.ok ? 'PASS' : 'FAIL'}`,
  ]);
  const text = [
    table(['command (compiled)', 'wall ms', 'node -e 0 ms', 'ratio', 'target ms'], rows),
    `agent bundle: ${bundle.files} JavaScript files, ${(bundle.bytes / 1024 / 1024).toFixed(2)} MiB, no node_modules`,
  ].join('\n');
  return { text, summary: { timings, agentBundle: bundle }, ok: timings.every((t) => t.ok) };
}

export const startupSuite: BenchSuite = {
  name: 'startup',
  description:
    'wall time of the compiled entropy plan and entropy status (against a running controller), as ratios to node -e 0; the agent bundle',
  run,
};
