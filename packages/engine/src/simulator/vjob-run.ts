import type { Node } from '../model/configuration.ts';
import type { VJobState } from '../model/lifecycle.ts';
import type { ScenarioVJob } from './scenario.ts';

/** The simulated life of one vjob: `pending` until its submission time, then the vjob states. */
export interface VJobRun {
  readonly spec: ScenarioVJob;
  state: 'pending' | VJobState;
  /** Index of the current phase; equals the number of phases once the work is done. */
  phase: number;
  /** Milliseconds of the current phase already executed (at full speed). */
  done: number;
  /** Per VM: the node it runs on or holding its image. */
  hosts: (string | undefined)[];
  completedAt?: number;
}

export function newRun(spec: ScenarioVJob): VJobRun {
  return { spec, state: 'pending', phase: 0, done: 0, hosts: spec.vms.map(() => undefined) };
}

/** CPU use of VM `i` in the vjob's current phase: what a monitor would measure if it ran. */
export function phaseCpu(run: VJobRun, i: number): number {
  return run.spec.phases[run.phase]?.cpu[i] ?? 0;
}

export interface Progress {
  /** Speed of each progressing vjob, in (0, 1]: 1 is full speed. */
  readonly rate: Map<VJobRun, number>;
  /** CPU actually used and memory held, summed over the nodes. */
  readonly cpuUsed: number;
  readonly memUsed: number;
}

/**
 * How fast each running vjob progresses. A node whose VMs ask for more CPU than it has shares it
 * in proportion to their use; a vjob goes at the pace of its slowest busy VM (its VMs work in
 * lock-step, as the tasks of an NGB workflow wait for each other's data). A vjob in `frozen`
 * (acted on by the context switch under way) neither progresses nor uses CPU; it keeps its memory.
 */
export function progressOf(runs: readonly VJobRun[], nodes: readonly Node[], frozen: ReadonlySet<string>): Progress {
  const load = new Map<string, number>();
  let memUsed = 0;
  for (const run of runs) {
    if (run.state !== 'running') continue;
    run.spec.vms.forEach((vm, i) => {
      memUsed += vm.mem;
      const host = run.hosts[i];
      if (!frozen.has(run.spec.id) && host !== undefined) load.set(host, (load.get(host) ?? 0) + phaseCpu(run, i));
    });
  }
  const share = new Map<string, number>();
  let cpuUsed = 0;
  for (const n of nodes) {
    const l = load.get(n.id) ?? 0;
    const cap = n.capacity.cpu ?? 0;
    share.set(n.id, l > cap ? cap / l : 1);
    cpuUsed += Math.min(l, cap);
  }
  const rate = new Map<VJobRun, number>();
  for (const run of runs) {
    if (run.state !== 'running' || frozen.has(run.spec.id)) continue;
    let r = 1;
    run.spec.vms.forEach((_, i) => {
      const host = run.hosts[i];
      if (phaseCpu(run, i) > 0 && host !== undefined) r = Math.min(r, share.get(host) ?? 1);
    });
    rate.set(run, r);
  }
  return { rate, cpuUsed, memUsed };
}
