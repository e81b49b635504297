import { generateInstance } from '../src/testing/generate-instance.ts';
import { contextSwitch } from '../src/engine/context-switch.ts';
const nodes = Number(process.argv[2] ?? 5000), vms = Number(process.argv[3] ?? 30000);
const g = generateInstance({ seed: 1, nodes, vms, load: 0.65, nodeClasses: [{ cpu: 8, mem: 16384, weight: 6 }, { cpu: 16, mem: 32768, weight: 3 }, { cpu: 32, mem: 65536, weight: 1 }] });
const t0 = performance.now();
const plan = contextSwitch(g.configuration, g.decision, g.costModel);
console.log(Math.round(performance.now() - t0), plan.feasible && plan.stats);
