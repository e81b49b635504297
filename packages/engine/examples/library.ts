// The engine as a library: a configuration and a decision in, a verified plan out. No NATS, no files.
import { type Configuration, contextSwitch, DEFAULT_COST_MODEL, verifyPlan } from '@entropy/engine';

const configuration: Configuration = {
  nodes: [
    { id: 'n1', state: 'online', capacity: { cpu: 4, mem: 4096 } },
    { id: 'n2', state: 'online', capacity: { cpu: 4, mem: 4096 } },
  ],
  vms: [
    { id: 'a1', vjob: 'a', state: 'running', host: 'n1', demand: { cpu: 2, mem: 2048 } },
    { id: 'a2', vjob: 'a', state: 'running', host: 'n2', demand: { cpu: 2, mem: 2048 } },
    { id: 'b1', vjob: 'b', state: 'waiting', demand: { cpu: 2, mem: 3072 } },
    { id: 'b2', vjob: 'b', state: 'waiting', demand: { cpu: 2, mem: 3072 } },
  ],
  vjobs: [
    { id: 'a', vms: ['a1', 'a2'], priority: 0, submittedAt: 0 },
    { id: 'b', vms: ['b1', 'b2'], priority: 0, submittedAt: 0 },
  ],
};

// The policy's word: b must run, a must make room (its VMs suspended together).
const plan = contextSwitch(configuration, { a: 'sleeping', b: 'running' }, DEFAULT_COST_MODEL);
if (!plan.feasible) throw new Error(plan.reason);
for (const a of plan.actions)
  console.log(`step ${a.step}  ${a.type.padEnd(7)} ${a.vm}  ${a.from ?? ''} -> ${a.to ?? ''}`);
console.log(
  `${plan.actions.length} actions in ${plan.steps} steps, ${plan.makespan} ms; verified: ${verifyPlan(configuration, { a: 'sleeping', b: 'running' }, plan).ok}`,
);
