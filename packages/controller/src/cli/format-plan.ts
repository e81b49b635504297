import type { NodeAction, Plan, PlannedAction, SolverStats } from '@entropy/engine';
import { withThousands } from '../command-io/text-table.ts';

export const seconds = (ms: number) => `${(ms / 1000).toFixed(2)}s`;

/** One action's line; its id last (the id `entropy apply --plan ... --skip` names). */
function describe(a: PlannedAction | NodeAction): string {
  if ('node' in a)
    return `${a.type.padEnd(8)} ${'-'.padEnd(12)} ${'-'.padEnd(10)} ${a.node.padEnd(18)} ${seconds(a.start).padStart(9)} ${seconds(a.end).padStart(9)}  ${a.id}`;
  const where =
    a.from !== undefined && a.to !== undefined && a.from !== a.to ? `${a.from} -> ${a.to}` : (a.to ?? a.from ?? '');
  return `${a.type.padEnd(8)} ${a.vm.padEnd(12)} ${a.vjob.padEnd(10)} ${where.padEnd(18)} ${seconds(a.start).padStart(9)} ${seconds(a.end).padStart(9)}  ${a.id}`;
}

/** The human view of a plan: one block per step, then the totals. */
export function formatPlan(plan: Plan): string {
  if (!plan.feasible) return `infeasible: ${plan.reason}`;
  const lines: string[] = [];
  const all: (PlannedAction | NodeAction)[] = [...plan.actions, ...(plan.nodeActions ?? [])];
  const byStep = new Map<number, (PlannedAction | NodeAction)[]>();
  for (const a of all) {
    const list = byStep.get(a.step);
    if (list) list.push(a);
    else byStep.set(a.step, [a]);
  }
  for (const step of [...byStep.keys()].sort((x, y) => x - y)) {
    const actions = byStep.get(step)!;
    lines.push(`step ${step} (${actions.length} action${actions.length === 1 ? '' : 's'})`);
    lines.push(
      `  ${'action'.padEnd(8)} ${'vm'.padEnd(12)} ${'vjob'.padEnd(10)} ${'node'.padEnd(18)} ${'start'.padStart(9)} ${'end'.padStart(9)}  id`,
    );
    for (const a of actions.sort((x, y) => x.start - y.start || x.id.localeCompare(y.id)))
      lines.push(`  ${describe(a)}`);
  }
  const counts = new Map<string, number>();
  for (const a of all) counts.set(a.type, (counts.get(a.type) ?? 0) + 1);
  const summary = [...counts].map(([t, n]) => `${n} ${t}`).join(', ') || 'nothing to do';
  lines.push('');
  lines.push(`${all.length} actions (${summary}) in ${plan.steps} steps`);
  const mttr = plan.mttr !== undefined ? `, MTTR ${seconds(plan.mttr)}` : '';
  lines.push(
    `makespan ${seconds(plan.makespan)}, sum of completion times ${seconds(plan.sumCompletion)}${mttr}, solved in ${plan.solveMs} ms`,
  );
  if (plan.stats) lines.push(describeStats(plan.stats));
  return lines.join('\n');
}

/** One line on the placement search: its cost (MiB the vjobs are disturbed by), the bound, the effort, why it stopped. */
export function describeStats(st: SolverStats): string {
  const mib = (x: number) => `${withThousands(x)} MiB`;
  const cost =
    st.finalCost < st.firstCost ? `${mib(st.finalCost)} (first solution ${mib(st.firstCost)})` : mib(st.finalCost);
  const bound =
    st.lowerBound !== undefined
      ? st.optimal
        ? ', optimal'
        : `, lower bound ${mib(st.lowerBound)}${st.gap !== undefined ? ` (gap ${(100 * st.gap).toFixed(1)}%)` : ''}`
      : '';
  const effort =
    st.method === 'none'
      ? 'no search needed'
      : `${st.method === 'exact' ? 'exact search' : `${st.neighbourhoods} neighbourhoods`}, ${withThousands(st.nodes)} nodes, ${st.improvements} improvement(s), ${st.stoppedBy}`;
  return `placement cost ${cost}${bound}; ${effort}`;
}
