import type { StatusReply } from '@entropy/protocol';
import type { Instance } from '@entropy/engine';

/** Exit codes of `entropy demo` (1, bad input or a cluster that does not start, is main.ts's). */
export const DemoExit = { Ok: 0, Failed: 4, Mismatch: 5 } as const;

/** What the demos show and check against what the agents report. */

/** The VMs whose observed state is not the one the decision (or their own) asks for, one line each. */
export function wantedStateMismatches(instance: Instance, status: StatusReply): string[] {
  const observed = new Map(status.vms.map((v) => [v.id, v]));
  const out: string[] = [];
  for (const vm of instance.configuration.vms) {
    const wanted = instance.decision[vm.vjob] ?? vm.state;
    const seen = observed.get(vm.id);
    const state = seen?.state ?? 'absent';
    const ok =
      wanted === 'terminated' || wanted === 'waiting' ? seen === undefined || seen.state === wanted : state === wanted;
    if (!ok) out.push(`${vm.id} (vjob ${vm.vjob}): wanted ${wanted}, observed ${state}`);
  }
  return out;
}

/** One line per vjob: its VMs' observed states, where they run, and the wanted state. */
export function vjobTable(instance: Instance, status: StatusReply): string {
  const observed = new Map(status.vms.map((v) => [v.id, v]));
  const lines = [`  ${'vjob'.padEnd(6)} ${'VMs'.padStart(3)}  ${'observed states'.padEnd(24)} wanted`];
  for (const j of instance.configuration.vjobs) {
    const states = new Map<string, number>();
    const hosts = new Set<string>();
    for (const id of j.vms) {
      const v = observed.get(id);
      // A VM no agent reports was never created (waiting) or is gone (a cancelled or stopped vjob).
      const s = v?.state ?? (instance.decision[j.id] === 'terminated' ? 'terminated' : 'waiting');
      states.set(s, (states.get(s) ?? 0) + 1);
      if (v?.host && s === 'running') hosts.add(v.host);
    }
    const summary = [...states].map(([s, n]) => `${n} ${s}`).join(', ');
    const wanted = instance.decision[j.id] ?? '(unchanged)';
    lines.push(
      `  ${j.id.padEnd(6)} ${String(j.vms.length).padStart(3)}  ${summary.padEnd(24)} ${wanted}${hosts.size > 0 ? `  on ${[...hosts].sort().join(' ')}` : ''}`,
    );
  }
  return lines.join('\n');
}

/** Resolves on the first SIGINT or SIGTERM (a demo kept up with --keep). */
export function untilSignal(): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      process.off('SIGINT', done);
      process.off('SIGTERM', done);
      resolve();
    };
    process.once('SIGINT', done);
    process.once('SIGTERM', done);
  });
}
