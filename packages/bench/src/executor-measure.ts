/**
 * The executor bench's measurements on one running cluster: the controller side (connection,
 * monitor, natsTransport, progress publication) lives in this process, as in `entropy controller`.
 */
import { setTimeout as delay } from 'node:timers/promises';
import { decode, encode, type Subjects, subjects as subjectsOf } from '@entropy/protocol';
import { connectNats, type NatsConnection } from '../../controller/src/controller/nats-connect.ts';
import { silentLogger } from '../../controller/src/controller/logger.ts';
import { actionJournalFor } from '../../controller/src/controller/plan-journaling.ts';
import {
  type ActionJournal,
  executePlan,
  ExecutionStatus,
  natsTransport,
  progressPublisher,
  type NatsTransport,
} from '../../controller/src/executor/index.ts';
import { StreamJournal } from '../../controller/src/journal/stream-journal.ts';
import type { Configuration } from '@entropy/engine';
import { type NatsMonitor, startNatsMonitor } from '../../controller/src/monitor/index.ts';
import { barrierPlan, benchConfiguration, nodeIds, rawRequest } from './executor-layout.ts';
import { type AgentGroup, startAgentGroup } from './executor-processes.ts';

export const STATUS_INTERVAL_MS = 2000;
/** Marks the burst's statuses, so that the count leaves out the agents' periodic ones. */
const BURST_SEQ = 2 ** 31;
const BURST_IDLE_MS = 3000;
export const MODES: readonly Mode[] = ['raw', 'executor', 'executorNoProgress', 'executorJournal'];

/** One barrier: the wall time from its first send to the next barrier's first send, and the slowest action's agent-measured time. */
export interface StepSample {
  readonly wallMs: number;
  readonly driverMs: number;
}

export interface ClusterSpec {
  readonly agents: number;
  readonly processes: number;
  readonly prefix: string;
  readonly stepsPerPlan: number;
  readonly rounds: number;
  /** Unrecorded rounds of every mode first: the first plans after start run cold (JIT, connections, inboxes). */
  readonly warmupRounds: number;
  /** Statuses each agent publishes in the burst; 0: no burst. */
  readonly burstPerAgent: number;
}

export interface BurstFigures {
  readonly published: number;
  readonly decoded: number;
  readonly statusBytes: number;
  /** The producers' publishing time (slowest group) and the monitor's time from the first to the last decoded status. */
  readonly publishMs: number;
  readonly decodeMs: number;
  readonly msgsPerSecond: number;
}

export type Mode = 'raw' | 'executor' | 'executorNoProgress' | 'executorJournal';

export interface ClusterFigures {
  readonly startMs: number;
  /** The executor's first plan after start, before any warm-up. */
  readonly cold: readonly StepSample[];
  readonly raw: readonly StepSample[];
  readonly executor: readonly StepSample[];
  /** The executor again, publishing no progress. */
  readonly executorNoProgress: readonly StepSample[];
  /** The executor as `entropy controller` runs it with JetStream: each intent stored in the plan journal before its action leaves. */
  readonly executorJournal: readonly StepSample[];
  /** CPU time of this process (the controller side) per step, by mode: unlike wall times, barely touched by other processes' load. */
  readonly cpuMsPerStep: Readonly<Record<Mode, number>>;
  readonly burst?: BurstFigures;
}

interface Controller {
  readonly nc: NatsConnection;
  readonly s: Subjects;
  readonly monitor: NatsMonitor;
  readonly nodes: readonly string[];
  readonly configuration: Configuration;
}

/** Starts the agents, measures, and stops the agents and the controller's connection whatever happens. */
export async function measureCluster(
  url: string,
  spec: ClusterSpec,
  progress: (line: string) => void,
): Promise<ClusterFigures> {
  const nodes = nodeIds(spec.agents);
  const s = subjectsOf(spec.prefix);
  const nc = await connectNats(url, `entropy-bench-controller-${spec.agents}`);
  const monitor = startNatsMonitor(nc, {
    subjects: s,
    name: 'entropy-bench',
    logger: silentLogger,
    periodMs: STATUS_INTERVAL_MS,
  });
  const groups: AgentGroup[] = [];
  try {
    const t0 = performance.now();
    const per = Math.ceil(nodes.length / spec.processes);
    const chunks = Array.from({ length: spec.processes }, (_, i) => nodes.slice(i * per, (i + 1) * per));
    const started = await Promise.allSettled(
      chunks.map((chunk) =>
        startAgentGroup({ url, prefix: spec.prefix, nodes: chunk, statusIntervalMs: STATUS_INTERVAL_MS }),
      ),
    );
    for (const r of started) if (r.status === 'fulfilled') groups.push(r.value);
    const failed = started.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
    await allOnline(monitor, nodes.length);
    const startMs = performance.now() - t0;
    progress(`executor: ${spec.agents} agents in ${spec.processes} process(es) up in ${(startMs / 1000).toFixed(1)} s`);

    const c: Controller = { nc, s, monitor, nodes, configuration: benchConfiguration(nodes) };
    const transport = natsTransport(nc, { subjects: s, isOffline: monitor.isOffline });
    const journal = await StreamJournal.open(nc, { prefix: spec.prefix, logger: silentLogger });
    const runs: Record<Mode, (planId: string) => Promise<StepSample[]>> = {
      raw: (planId) => rawBarriers(c, planId, spec.stepsPerPlan),
      executor: (planId) => executorBarriers(c, transport, planId, spec.stepsPerPlan, true),
      executorNoProgress: (planId) => executorBarriers(c, transport, planId, spec.stepsPerPlan, false),
      executorJournal: (planId) =>
        executorBarriers(
          c,
          transport,
          planId,
          spec.stepsPerPlan,
          true,
          actionJournalFor(journal, planId, silentLogger),
        ),
    };
    // The very first plan, as a controller just started would run it; then the warm-up, not recorded.
    const cold = await runs.executor(`cold-${spec.agents}`);
    for (let r = 0; r < spec.warmupRounds; r++)
      for (const mode of MODES) await runs[mode](`warm-${mode}-${spec.agents}-${r}`);
    const samples: Record<Mode, StepSample[]> = { raw: [], executor: [], executorNoProgress: [], executorJournal: [] };
    const cpuMs: Record<Mode, number> = { raw: 0, executor: 0, executorNoProgress: 0, executorJournal: 0 };
    // Alternate the modes so that the machine's load falls on all of them alike.
    for (let r = 0; r < spec.rounds; r++) {
      for (const mode of MODES) {
        const cpu0 = process.cpuUsage();
        samples[mode].push(...(await runs[mode](`${mode}-${spec.agents}-${r}`)));
        const cpu = process.cpuUsage(cpu0);
        cpuMs[mode] += (cpu.user + cpu.system) / 1000;
      }
    }
    progress(`executor: ${spec.agents} agents: ${samples.raw.length} barriers per mode done`);
    const burst = spec.burstPerAgent > 0 ? await statusBurst(c, groups, spec.burstPerAgent) : undefined;
    const cpuMsPerStep = Object.fromEntries(MODES.map((m) => [m, cpuMs[m] / samples[m].length])) as Record<
      Mode,
      number
    >;
    return { startMs, cold, ...samples, cpuMsPerStep, ...(burst ? { burst } : {}) };
  } finally {
    await Promise.allSettled(groups.map((g) => g.stop()));
    await monitor.close();
    await nc.close();
  }
}

async function allOnline(monitor: NatsMonitor, n: number): Promise<void> {
  const deadline = performance.now() + 30_000;
  for (;;) {
    const online = monitor.view().nodes.filter((v) => v.liveness === 'online').length;
    if (online === n) return;
    if (performance.now() > deadline) throw new Error(`only ${online} of ${n} agents reported a status within 30 s`);
    await delay(20);
  }
}

/** The bare barrier: the same requests, sent with nc.request and decoded, no executor. */
async function rawBarriers(c: Controller, planId: string, steps: number): Promise<StepSample[]> {
  const out: StepSample[] = [];
  for (let step = 0; step < steps; step++) {
    const t0 = performance.now();
    const results = await Promise.all(
      c.nodes.map(async (node) => {
        const m = await c.nc.request(c.s.nodeAction(node), encode('actionRequest', rawRequest(planId, step, node)), {
          timeout: 5000,
        });
        return decode('actionResult', m.data);
      }),
    );
    const wallMs = performance.now() - t0;
    let driverMs = 0;
    for (const r of results) {
      if (!r.ok) throw new Error(`raw barrier ${planId} step ${step}: malformed result: ${r.error.reason}`);
      if (!r.msg.ok) throw new Error(`raw barrier ${planId} step ${step}: ${r.msg.node}: ${r.msg.error?.message}`);
      driverMs = Math.max(driverMs, r.msg.durationMs);
    }
    out.push({ wallMs, driverMs });
  }
  return out;
}

/** One plan through executePlan, as the controller runs it; each step's time comes from the executor's own events. */
async function executorBarriers(
  c: Controller,
  transport: NatsTransport,
  planId: string,
  steps: number,
  withProgress: boolean,
  journal?: ActionJournal,
): Promise<StepSample[]> {
  const startedAt: number[] = [];
  const doneAt: number[] = [];
  const driverMs: number[] = new Array(steps).fill(0);
  const publish = progressPublisher(c.nc, c.s);
  const outcome = await executePlan(barrierPlan(c.nodes, steps), {
    planId,
    configuration: c.configuration,
    decision: {},
    transport,
    ...(journal ? { journal } : {}),
    now: () => performance.now(),
    onEvent: (e) => {
      if (withProgress) publish(e);
      if (e.kind === 'step-started') startedAt[e.step] = e.at;
      else if (e.kind === 'step-done') doneAt[e.step] = e.at;
      else if (e.kind === 'action-done') driverMs[e.action.step] = Math.max(driverMs[e.action.step]!, e.durationMs);
    },
  });
  if (outcome.status !== ExecutionStatus.Completed)
    throw new Error(`plan ${planId} ${outcome.status}: ${outcome.failed?.error.message ?? outcome.abortReason}`);
  // The last step has no next one: its time ends with its last result.
  return driverMs.map((d, step) => ({
    wallMs: (step + 1 < steps ? startedAt[step + 1]! : doneAt[step]!) - startedAt[step]!,
    driverMs: d,
  }));
}

/** Every agent publishes `perAgent` statuses at once; counts what the controller's monitor decodes and how fast. */
async function statusBurst(c: Controller, groups: readonly AgentGroup[], perAgent: number): Promise<BurstFigures> {
  const target = c.monitor.monitor;
  const observe = target.observeStatus;
  let decoded = 0;
  let first = 0;
  let last = 0;
  target.observeStatus = function (status, at) {
    if (status.seq === BURST_SEQ) {
      last = performance.now();
      if (decoded++ === 0) first = last;
    }
    observe.call(this, status, at);
  };
  try {
    const answers = await Promise.all(groups.map((g) => g.ask({ kind: 'burst', perAgent, seq: BURST_SEQ }, 60_000)));
    let published = 0;
    let publishMs = 0;
    let statusBytes = 0;
    for (const a of answers) {
      if (a.kind !== 'burst-done') throw new Error(a.kind === 'error' ? a.message : `burst: unexpected ${a.kind}`);
      published += a.published;
      publishMs = Math.max(publishMs, a.ms);
      statusBytes = a.bytes;
    }
    const answered = performance.now();
    while (decoded < published && performance.now() - Math.max(last, answered) < BURST_IDLE_MS) await delay(20);
    const decodeMs = last - first;
    return {
      published,
      decoded,
      statusBytes,
      publishMs,
      decodeMs,
      msgsPerSecond: decodeMs > 0 ? ((decoded - 1) * 1000) / decodeMs : NaN,
    };
  } finally {
    delete (target as { observeStatus?: unknown }).observeStatus;
  }
}
