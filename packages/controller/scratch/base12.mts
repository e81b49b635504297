import { generateInstance } from '../src/testing/generate-instance.ts';
import { contextSwitch } from '../src/engine/context-switch.ts';
const nodes = Number(process.argv[2] ?? 5000), vms = Number(process.argv[3] ?? 30000), work = Number(process.argv[4] ?? 0);
const classes = nodes > 10000 ? undefined : [{ cpu: 8, mem: 16384, weight: 6 }, { cpu: 16, mem: 32768, weight: 3 }, { cpu: 32, mem: 65536, weight: 1 }];
const g = generateInstance({ seed: 1, nodes, vms, load: 0.65, ...(classes ? { nodeClasses: classes } : {}) });
for (let i = 0; i < 2; i++) {
  const t0 = performance.now();
  const plan = contextSwitch(g.configuration, g.decision, g.costModel, { workBudget: work, timeLimitMs: 60000 });
  console.log(Math.round(performance.now() - t0), 'ms', plan.feasible && plan.stats?.stoppedBy, process.memoryUsage().rss >> 20, 'MiB');
}
{
  const plan = contextSwitch(g.configuration, g.decision, g.costModel, { workBudget: work, timeLimitMs: 60000 });
  if (plan.feasible) console.log(plan.stats);
}
