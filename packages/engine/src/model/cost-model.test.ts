import { describe, expect, it } from 'vitest';
import { contextSwitch } from '../solver/context-switch.ts';
import { parseInstance } from '../instance/parse-instance.ts';
import { costModelOverrides, costModelWith, DEFAULT_COST_MODEL, durationOf } from './cost-model.ts';

describe('the cost model', () => {
  it('applies overrides to a base model, node lines taking the missing part from the cluster line', () => {
    const base = costModelWith({ migrate: { base: 100, perMiB: 2 } });
    const m = costModelWith({ migrate: { perMiB: 3 }, nodes: { n2: { migrate: { base: 500 } } } }, base);
    expect(m.migrate).toEqual({ base: 100, perMiB: 3 });
    expect(m.nodes).toEqual({ n2: { migrate: { base: 500, perMiB: 3 } } });
    expect(m.run).toEqual(DEFAULT_COST_MODEL.run);
    expect(costModelWith({}, m).nodes).toEqual(m.nodes);
    expect(costModelWith(costModelOverrides(m))).toEqual(m);
  });

  it("prices an action by its executing node's own line when the model has one", () => {
    const m = costModelWith({ nodes: { slow: { migrate: { base: 0, perMiB: 4 } } } });
    expect(durationOf(m, 'migrate', 1000)).toBe(1000);
    expect(durationOf(m, 'migrate', 1000, 'other')).toBe(1000);
    expect(durationOf(m, 'migrate', 1000, 'slow')).toBe(4000);
  });

  it("plans a migration with its source node's line, and a run with its destination's", () => {
    const instance = parseInstance({
      nodes: [
        { id: 'n1', cpu: 4, mem: 4096 },
        { id: 'n2', cpu: 4, mem: 4096 },
      ],
      vms: [
        // n1 is overloaded: the cheaper VM, v2, moves to n2.
        { id: 'v1', vjob: 'j1', cpu: 3, mem: 1000, state: 'running', host: 'n1' },
        { id: 'v2', vjob: 'j2', cpu: 3, mem: 500, state: 'running', host: 'n1' },
        { id: 'v3', vjob: 'j3', cpu: 1, mem: 100, state: 'waiting' },
      ],
      vjobs: [{ id: 'j1' }, { id: 'j2' }, { id: 'j3' }],
      decision: { j3: 'running' },
      costModel: {
        run: { base: 300 },
        nodes: { n1: { migrate: { perMiB: 3 }, run: { base: 900 } }, n2: { run: { base: 700 } } },
      },
    });
    expect(instance.costModel.nodes?.n1?.migrate).toEqual({ base: 0, perMiB: 3 });
    const plan = contextSwitch(instance.configuration, instance.decision, instance.costModel);
    if (!plan.feasible) throw new Error(plan.reason);
    const migrate = plan.actions.find((a) => a.type === 'migrate')!;
    expect(migrate).toMatchObject({ vm: 'v2', from: 'n1', to: 'n2' });
    expect(migrate.end - migrate.start).toBe(1500);
    const run = plan.actions.find((a) => a.type === 'run')!;
    expect(run.end - run.start).toBe(run.to === 'n2' ? 700 : 900);
  });
});
