import { describe, expect, it } from 'vitest';
import { contextSwitch } from '../solver/context-switch.ts';
import { verifyPlan } from '../verifier/index.ts';
import { generateWorkload } from './generate-workload.ts';
import { readBtrPlaceInstance } from './read-instance.ts';

// Nothing may be tuned to the four shared instances: generated workloads of the same kinds, several seeds.
describe('generated BtrPlace workloads', () => {
  for (const scenario of ['li', 'nr'] as const) {
    for (const seed of [1, 2, 3]) {
      it(`${scenario} seed ${seed}: imports, solves, and its plan verifies with every constraint`, () => {
        const json = generateWorkload({ scenario, seed, nodes: 400, vms: 1600, constrained: 0.66 });
        const i = readBtrPlaceInstance(json);
        const plan = contextSwitch(i.configuration, i.decision, i.costModel, {
          constraints: i.constraints,
          durations: i.durations,
        });
        if (!plan.feasible) throw new Error(plan.reason);
        expect(verifyPlan(i.configuration, i.decision, plan, i.constraints)).toEqual({ ok: true });
        const types = new Set(plan.actions.map((a) => a.type));
        expect(types.has(scenario === 'li' ? 'migrate' : 'run')).toBe(true);
        expect(plan.solveMs).toBeLessThan(3000);
      });
    }
  }

  it('is the same instance for the same seed', () => {
    const a = JSON.stringify(generateWorkload({ scenario: 'li', seed: 4, nodes: 50, vms: 150, constrained: 0.3 }));
    expect(JSON.stringify(generateWorkload({ scenario: 'li', seed: 4, nodes: 50, vms: 150, constrained: 0.3 }))).toBe(
      a,
    );
  });
});
