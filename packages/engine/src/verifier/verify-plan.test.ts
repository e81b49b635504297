import { describe, expect, it } from 'vitest';
import type { Node, VM } from '../model/configuration.ts';
import type { PlannedAction } from '../model/plan.ts';
import { verifyPlan } from './index.ts';
import { configuration, node, plan, referenceCase, vm } from '@entropy/test-support/verifier-fixtures.ts';

describe('verifyPlan', () => {
  it('accepts a valid plan that uses every action type', () => {
    const { config, decision, plan: p } = referenceCase();
    expect(verifyPlan(config, decision, p)).toEqual({ ok: true });
  });

  it('accepts the same plan without a target', () => {
    const { config, decision, actions } = referenceCase();
    const { target: _, ...withoutTarget } = plan(actions);
    expect(verifyPlan(config, decision, withoutTarget)).toEqual({ ok: true });
  });

  it('accepts an empty plan when nothing has to change', () => {
    const config = configuration([node('n1')], [vm('v1', 'j1', 'running', 'n1'), vm('v2', 'j2', 'sleeping', 'n1')]);
    expect(
      verifyPlan(
        config,
        { j1: 'running' },
        plan([], { v1: { state: 'running', host: 'n1' }, v2: { state: 'sleeping', host: 'n1' } }),
      ),
    ).toEqual({ ok: true });
  });

  it('verifies 30,000 actions on 5,000 nodes in well under a second', () => {
    const N = 5000;
    const nodes: Node[] = Array.from({ length: N }, (_, i) => ({
      id: `n${i}`,
      capacity: { cpu: 16, mem: 65536 },
      state: 'online',
    }));
    const vms: VM[] = Array.from({ length: 30000 }, (_, i) => ({
      id: `v${i}`,
      vjob: `j${i}`,
      state: 'running',
      host: `n${i % N}`,
      demand: { cpu: 1, mem: 1024 },
    }));
    // Every VM moves to the next node; six arrive where six leave, at staggered times and steps.
    const actions: PlannedAction[] = vms.map((v, i) => {
      const start = (i % 7) * 1100;
      return {
        id: `a${i}`,
        type: 'migrate',
        vm: v.id,
        vjob: v.vjob,
        from: v.host,
        to: `n${(i + 1) % N}`,
        start,
        end: start + 1024,
        step: i % 7,
        dependsOn: i % 7 > 0 ? [`a${i - 1}`] : [],
      };
    });
    const target = Object.fromEntries(
      vms.map((v, i) => [v.id, { state: 'running' as const, host: `n${(i + 1) % N}` }]),
    );
    const config = configuration(nodes, vms);
    const p = plan(actions, target);
    // CPU time, best of two runs: the machines are shared (wall time measures the neighbours), and
    // the first run also pays for JIT warm-up.
    let ms = Infinity;
    for (let run = 0; run < 2; run++) {
      const before = process.cpuUsage();
      const verdict = verifyPlan(config, {}, p);
      const used = process.cpuUsage(before);
      ms = Math.min(ms, (used.user + used.system) / 1000);
      expect(verdict).toEqual({ ok: true });
    }
    console.log(`verified ${actions.length} actions in ${ms.toFixed(0)} ms of CPU`);
    expect(ms).toBeLessThan(1000);
  });
});
