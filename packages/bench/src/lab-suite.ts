/**
 * `pnpm bench -- --suites lab` (root, libvirt): the whole context switch on QEMU guests. A lab of 3
 * hosts and 9 guests (entropy lab up) runs one vjob of 9 VMs (3 per host) and takes it to sleep and
 * back CYCLES times (a pause group, saves; restores, an unpause group), then a second lab runs the
 * reference-like scenario (lab-scenario.ts). Every action's duration is the agent's measure (from
 * the controller's journal), against the cost model's estimate: the lab's calibrated model, and
 * the defaults. The pause and unpause skews are the spreads of each group's starts and ends.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { connectNats } from '../../controller/src/controller/nats-connect.ts';
import { groupSkew, type GroupSkew } from '../../controller/src/executor/group-skew.ts';
import { untilTicking } from '../../controller/src/lab/guest.ts';
import type { JournaledAction } from '../../controller/src/lab/journaled-actions.ts';
import { applyOnLab, type LabApplied } from '../../controller/src/cli/lab-apply.ts';
import { labDown } from '../../controller/src/lab/lab-teardown.ts';
import { type Lab, LAB_COST_MODEL, labUp } from '../../controller/src/lab/lab-up.ts';
import { labUnavailableReason } from '../../controller/src/lab/prerequisites.ts';
import { costKindOf, type CostModel, costModelWith, DEFAULT_COST_MODEL, durationOf } from '@entropy/engine';
import { labNats } from '../../controller/src/lab/lab-state.ts';
import { median, ms, table } from './format.ts';
import type { BenchOptions, BenchSuite, SuiteResult } from './suite.ts';

const CYCLES = Number(process.env.ENTROPY_BENCH_LAB_CYCLES ?? 20);
const MEM_MIB = 128;
/** A vjob's pause starts must spread less than this, at the median over the cycles. */
const PAUSE_SKEW_TARGET_MS = 10;
const BOOT_TIMEOUT_MS = 300_000;
const GUESTS = Array.from({ length: 9 }, (_, i) => `v${i + 1}`);

interface LabFigures {
  readonly upMs: number[];
  readonly downMs: number[];
  bootMs?: number;
  readonly actions: JournaledAction[];
  readonly pauses: GroupSkew[];
  readonly unpauses: GroupSkew[];
  /** Per apply of the scenario: measured and estimated duration of the plan, as entropy apply prints them. */
  readonly scenario: { step: string; summary: string }[];
}

async function withLab<T>(
  figures: LabFigures,
  capacity: Record<string, number>,
  body: (lab: Lab, url: string, apply: (target: string) => Promise<LabApplied>) => Promise<T>,
): Promise<T> {
  const root = await mkdtemp(join(tmpdir(), 'entropy-bench-lab-'));
  const lab = await labUp({ dir: join(root, 'lab'), capacity });
  figures.upMs.push(lab.upMs);
  const nats = labNats(lab.state);
  const url = nats.nats;
  const nc = await connectNats(nats, 'bench-lab');
  let left: readonly string[] = [];
  let result: T;
  try {
    result = await body(lab, url, async (target) => {
      const r = await applyOnLab(nc, nats, target);
      if (r.exitCode !== 0)
        throw new Error(`entropy apply ${target} failed (${r.exitCode}); logs in ${lab.state.dir}/logs:\n${r.output}`);
      figures.actions.push(...r.actions);
      return r;
    });
  } finally {
    await nc.close();
    const t0 = performance.now();
    left = (await labDown(lab.state.dir))?.report.failures ?? [];
    figures.downMs.push(performance.now() - t0);
    await rm(root, { recursive: true, force: true });
  }
  // After the body's own error, if any: what lab down could not remove.
  if (left.length > 0) throw new Error(`lab down: ${left.join('; ')}`);
  return result;
}

async function measure(progress: (line: string) => void): Promise<LabFigures> {
  const figures: LabFigures = { upMs: [], downMs: [], actions: [], pauses: [], unpauses: [], scenario: [] };
  progress(`lab: one vjob of 9 VMs on 3 hosts, ${CYCLES} cycles of sleep and resume`);
  await withLab(figures, { cpu: 3, mem: 1024 }, async (lab, _url, apply) => {
    const file = join(lab.state.dir, 'scenario', 'big.json');
    await writeFile(
      file,
      JSON.stringify({
        nodes: lab.state.hosts.map((h) => ({ id: h.node, cpu: 3, mem: 1024 })),
        vms: GUESTS.map((id) => ({ id, vjob: 'big', cpu: 1, mem: MEM_MIB, state: 'waiting' })),
        vjobs: [{ id: 'big' }],
        decision: { big: 'running' },
      }),
    );
    const t0 = performance.now();
    await apply(file);
    await untilTicking((vm) => join(lab.state.dir, 'serial', `${vm}.log`), GUESTS, { timeoutMs: BOOT_TIMEOUT_MS });
    figures.bootMs = performance.now() - t0;
    for (let i = 0; i < CYCLES; i++) {
      const down = await apply('big=sleeping');
      const up = await apply('big=running');
      const p = groupSkew(down.actions.filter((a) => a.type === 'pause'));
      const u = groupSkew(up.actions.filter((a) => a.type === 'unpause'));
      if (p) figures.pauses.push(p);
      if (u) figures.unpauses.push(u);
      progress(
        `  cycle ${i + 1}/${CYCLES}: pause starts within ${p?.startSpreadMs.toFixed(1)} ms, unpause starts within ${u?.startSpreadMs.toFixed(1)} ms`,
      );
    }
  });
  progress('lab: the reference-like context switch (3 hosts, 9 guests)');
  await withLab(figures, { cpu: 4, mem: 1024 }, async (lab, _url, apply) => {
    const serialOf = (vm: string) => join(lab.state.dir, 'serial', `${vm}.log`);
    for (const step of lab.scenario!.steps) {
      const r = await apply(step.target);
      figures.scenario.push({
        step: step.name,
        summary: r.output
          .split('\n')
          .filter((l) => /^measured |^(un)?pause /.test(l))
          .join('; '),
      });
      // The next step starts from guests that run (booted, or resumed and ticking).
      const running = r.actions.filter((a) => a.type === 'run' || a.type === 'unpause').map((a) => a.vm);
      await untilTicking(serialOf, running, { timeoutMs: BOOT_TIMEOUT_MS });
    }
  });
  return figures;
}

const durationRow = (type: string, actions: readonly JournaledAction[], lab: CostModel): string[] => {
  const xs = actions.map((a) => a.durationMs!).filter((d) => d !== undefined);
  const estimate = (model: CostModel) => {
    const e = actions.map((a) =>
      durationOf(
        model,
        costKindOf(a.type as Parameters<typeof costKindOf>[0], a.type === 'resume' && a.from !== a.to),
        MEM_MIB,
      ),
    );
    const lo = Math.min(...e);
    const hi = Math.max(...e);
    return lo === hi ? ms(lo) : `${ms(lo)}-${ms(hi)}`;
  };
  return [type, String(xs.length), ms(median(xs)), ms(Math.max(...xs)), estimate(lab), estimate(DEFAULT_COST_MODEL)];
};

const skewRow = (name: string, groups: readonly GroupSkew[]): string[] => {
  const col = (f: (g: GroupSkew) => number) => [
    median(groups.map(f)).toFixed(1),
    Math.max(...groups.map(f)).toFixed(1),
  ];
  return [
    name,
    String(groups.length),
    ...col((g) => g.startSpreadMs),
    ...col((g) => g.endSpreadMs),
    ...col((g) => g.windowMs),
  ];
};

export const labSuite: BenchSuite = {
  name: 'lab',
  onRequest: true,
  description: `a real cluster on this machine (root, libvirt): ${CYCLES} sleeps and resumes of a vjob of 9 QEMU guests on 3 hosts, the reference-like switch; measured durations against the cost model, pause and unpause skew`,
  async run(options: BenchOptions): Promise<SuiteResult> {
    const why = await labUnavailableReason();
    if (why !== undefined) return { text: `lab: skipped (${why})`, summary: { skipped: why }, ok: true };
    const load = loadavg()[0]!.toFixed(1);
    const f = await measure(options.progress);
    const lab = costModelWith(LAB_COST_MODEL);
    const types = ['run', 'pause', 'suspend', 'resume', 'unpause', 'migrate', 'stop'];
    const byType = (t: string, remote?: boolean) =>
      f.actions.filter((a) => a.type === t && a.ok && (remote === undefined || (a.from !== a.to) === remote));
    const rows = types.flatMap((t) =>
      t === 'resume'
        ? [
            durationRow('resume (local)', byType(t, false), lab),
            durationRow('resume (remote)', byType(t, true), lab),
          ].filter((r) => r[1] !== '0')
        : byType(t).length > 0
          ? [durationRow(t, byType(t), lab)]
          : [],
    );
    const pauseMedian = median(f.pauses.map((g) => g.startSpreadMs));
    const ok = f.pauses.length === CYCLES && pauseMedian < PAUSE_SKEW_TARGET_MS;
    const text = [
      `Lab (3 hosts, 9 TCG guests of ${MEM_MIB} MiB, 1 vcpu; load average ${load} at the start): lab up ${f.upMs.map((x) => (x / 1000).toFixed(1)).join(' s, ')} s, lab down ${f.downMs.map((x) => (x / 1000).toFixed(1)).join(' s, ')} s; 9 guests booted and ticking ${((f.bootMs ?? NaN) / 1000).toFixed(1)} s after the apply`,
      '',
      'Action durations, measured by the agents around the hypervisor call (ms), against the cost model:',
      table(['action', 'n', 'median', 'max', 'lab model', 'default model'], rows),
      '',
      `Skew of a vjob's groups (9 VMs on 3 hosts, ${f.pauses.length} cycles; ms): spread of the calls' starts, of their ends, and from the first start to the last end`,
      table(
        ['group', 'n', 'starts median', 'max', 'ends median', 'max', 'window median', 'max'],
        [skewRow('pause', f.pauses), skewRow('unpause', f.unpauses)],
      ),
      '',
      "The reference-like switch, step by step (entropy apply's summary):",
      ...f.scenario.map((s) => `  ${s.step}: ${s.summary}`),
      '',
      `pause starts median ${pauseMedian.toFixed(1)} ms (target < ${PAUSE_SKEW_TARGET_MS} ms): ${ok ? 'pass' : 'FAIL'}`,
    ].join('\n');
    return {
      text,
      summary: {
        loadAverage: Number(load),
        upMs: f.upMs,
        downMs: f.downMs,
        bootMs: f.bootMs,
        durations: rows,
        pauses: f.pauses,
        unpauses: f.unpauses,
        scenario: f.scenario,
      },
      ok,
    };
  },
};
