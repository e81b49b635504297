import { readInstanceAs } from '../src/btrplace/index.ts';
import { readJsonFile } from '../src/cli/io.ts';
import { contextSwitch } from '../src/engine/context-switch.ts';
const file = '/work/shared/btrplace/li-r4-c66.json.gz';
const inst = readInstanceAs('btrplace', readJsonFile(file), file);
for (const limit of [1, 50, undefined]) {
  const t0 = performance.now();
  const plan = contextSwitch(inst.configuration, inst.decision, inst.costModel, { constraints: inst.constraints, ...(inst.durations ? { durations: inst.durations } : {}), ...(limit ? { timeLimitMs: limit } : {}) });
  console.log(limit, Math.round(performance.now() - t0), plan.feasible ? plan.stats : plan.reason);
}
