/**
 * One turn measurement in its own process: feeds a ClusterMonitor with a synthetic cluster's
 * statuses, then times each part of a control-loop turn as the controller runs it, `repeat` times,
 * and prints a TurnMeasurement as JSON on stdout.
 */
import { chunkSizeFor, encodeControl, splitReply } from '@entropy/protocol';
import { queuedVjobOf } from '../../controller/src/controller/queue-requests.ts';
import { policyViewOf, sizedByUsage } from '../../controller/src/reconcile/policy-view.ts';
import { silentLogger } from '../../controller/src/controller/logger.ts';
import { statusReplyOf } from '../../controller/src/controller/status-reply.ts';
import {
  consolidate,
  contextSwitch,
  decideSafely,
  DEFAULT_COST_MODEL,
  fcfs,
  fifoFfd,
  type Plan,
} from '@entropy/engine';
import { assertExecutable } from '../../controller/src/executor/index.ts';
import { ClusterMonitor, MemoryRegistry } from '../../controller/src/monitor/index.ts';
import { MemoryQueueStore } from '../../controller/src/queue/queue-store.ts';
import { VJobQueue } from '../../controller/src/queue/vjob-queue.ts';
import { reconcile } from '../../controller/src/reconcile/reconcile.ts';
import { median } from './format.ts';
import { turnCluster } from './turn-cluster.ts';
import { TURN_PARTS, type TurnMeasurement, type TurnPart, type TurnTask } from './turn-suite.ts';

/** The NATS server's default max_payload, which the status reply's chunks must fit in. */
const MAX_PAYLOAD = 1024 * 1024;

async function measure(task: TurnTask): Promise<TurnMeasurement> {
  const cluster = turnCluster(task.cluster);
  const store = new MemoryQueueStore();
  for (const v of cluster.vjobs) await store.add(v);
  const queue = await VJobQueue.open(store, silentLogger);
  const registry = new MemoryRegistry();
  queue.attach(registry);
  const monitor = new ClusterMonitor({ periodMs: 2000 });
  const policy = fifoFfd();
  const now = 1_000_000;

  const times = Object.fromEntries(TURN_PARTS.map((p) => [p, [] as number[]])) as Record<TurnPart, number[]>;
  const cpuTimes = Object.fromEntries(TURN_PARTS.map((p) => [p, [] as number[]])) as Record<TurnPart, number[]>;
  // CPU time beside wall time: on a shared machine the wall time of a part includes other processes' turns.
  const cpuMs = () => {
    const u = process.cpuUsage();
    return (u.user + u.system) / 1000;
  };
  const time = <T>(part: TurnPart, f: () => T): T => {
    const started = performance.now();
    const cpu = cpuMs();
    const out = f();
    times[part].push(performance.now() - started);
    cpuTimes[part].push(cpuMs() - cpu);
    return out;
  };
  let plan: Plan | undefined;
  let statusBytes = 0;
  let statusChunks = 0;
  let queueBytes = 0;
  let starts = 0;
  for (let r = 0; r < task.repeat; r++) {
    time('observe', () => {
      for (const st of cluster.statuses) monitor.observeStatus({ ...st, seq: st.seq + r }, now);
    });
    const view = time('view', () => monitor.view(now, registry));
    const reconciled = performance.now();
    const reconciledCpu = cpuMs();
    await queue.reconcile(view, { mayEnd: true, now });
    times.reconcile.push(performance.now() - reconciled);
    cpuTimes.reconcile.push(cpuMs() - reconciledCpu);
    const { schedulable, cancelling } = time('schedulable', () => ({
      schedulable: queue.schedulable(view).map((v) => v.id),
      cancelling: queue.cancelling(view).map((v) => v.id),
    }));
    time('observedChange', () => queue.observedChange(view));
    const policyView = time('policyView', () => policyViewOf(view, new Set(schedulable), now));
    const { decision } = time('decide', () => decideSafely(policy, policyView, {}));
    time('fcfs', () => decideSafely(fcfs(), policyView, {}));
    time('consolidate', () => decideSafely(consolidate(), policyView, {}));
    const wanted: Record<string, string> = { ...decision };
    for (const j of cancelling) wanted[j] = 'terminated';
    const configuration = time('sizing', () => sizedByUsage(view.configuration, view.usage));
    starts = policyView.queue.filter((j) => j.state === 'waiting' && decision[j.id] === 'running').length;
    plan = time('engine', () =>
      contextSwitch(
        configuration,
        decision,
        DEFAULT_COST_MODEL,
        task.timeLimitMs !== undefined ? { timeLimitMs: task.timeLimitMs } : {},
      ),
    );
    if (plan.feasible)
      time('verify', () =>
        assertExecutable(plan as Extract<Plan, { feasible: true }>, { planId: `bench-${r}`, configuration, decision }),
      );
    const status = time('statusReply', () => encodeControl('statusReply', statusReplyOf(view, 'bench')));
    statusBytes = status.length;
    statusChunks = splitReply(status, chunkSizeFor(MAX_PAYLOAD)).length;
    time('reconcileFn', () =>
      reconcile({
        view,
        now,
        knownNodes: [],
        startedAt: 0,
        statusPeriodMs: 2000,
        silenceMs: 6000,
        vjobs: queue.list(),
        policy,
        failures: new Map(),
        busy: [],
        costModel: DEFAULT_COST_MODEL,
        intervalMs: 5000,
        ...(task.timeLimitMs !== undefined ? { timeLimitMs: task.timeLimitMs } : {}),
      }),
    );
    const q = time('queueReply', () =>
      encodeControl('queueReply', {
        ok: true,
        controller: 'bench',
        ts: now,
        policy: policy.name,
        store: 'memory',
        vjobs: queue.list().map((v) => queuedVjobOf(v, view, policy, now)),
      }),
    );
    queueBytes = q.length;
  }
  const medians = Object.fromEntries(TURN_PARTS.map((p) => [p, median(times[p])])) as Record<TurnPart, number>;
  const cpuMedians = Object.fromEntries(TURN_PARTS.map((p) => [p, median(cpuTimes[p])])) as Record<TurnPart, number>;
  const actions: Record<string, number> = {};
  if (plan?.feasible) for (const a of plan.actions) actions[a.type] = (actions[a.type] ?? 0) + 1;
  return {
    ...task,
    nodes: cluster.statuses.length,
    vms: cluster.vms,
    vjobs: cluster.vjobs.length,
    ms: medians,
    cpuMs: cpuMedians,
    feasible: plan?.feasible ?? false,
    ...(plan && !plan.feasible ? { reason: plan.reason } : {}),
    starts,
    actions,
    statusBytes,
    statusChunks,
    queueBytes,
    peakRssMiB: process.resourceUsage().maxRSS / 1024,
  };
}

const task = JSON.parse(process.argv[2] ?? '{}') as TurnTask;
process.stdout.write(`${JSON.stringify(await measure(task))}\n`);
