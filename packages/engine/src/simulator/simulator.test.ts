import { describe, expect, it } from 'vitest';
import { fcfs } from '../policy/fcfs.ts';
import { fifoFfd } from '../policy/fifo-ffd.ts';
import { consolidate } from '../policy/consolidate.ts';
import type { Policy } from '../policy/policy.ts';
import { parseScenario } from './scenario.ts';
import { simulate } from './simulator.ts';

const MIN = 60_000;

/** One node of 2 CPUs; two vjobs of 2 VMs of 1 CPU submitted at 0; a boot takes 10 s. */
function tiny(a: object, b: object) {
  return parseScenario({
    controlPeriodMs: 30_000,
    costModel: { run: { base: 10_000 } },
    nodes: [{ id: 'n1', cpu: 2, mem: 4096 }],
    vjobs: [
      { id: 'a', vms: { count: 2, cpu: 1, mem: 1024 }, ...a },
      { id: 'b', vms: { count: 2, cpu: 1, mem: 1024 }, ...b },
    ],
  });
}

describe('simulate', () => {
  it('accounts a FCFS run computed by hand', () => {
    // a boots 0-10 s and computes 600 s: done at 610 s. b waits for a's room, boots 610-620 s,
    // computes 600 s: done at 1220 s. Cumulated: 610 + 1220 = 1830 s.
    const scenario = tiny(
      { phases: [{ durationMs: 10 * MIN, cpu: 1 }] },
      { phases: [{ durationMs: 10 * MIN, cpu: 1 }] },
    );
    const r = simulate(scenario, fcfs());
    expect(r.vjobs).toEqual([
      { id: 'a', submittedAt: 0, completedAt: 610_000 },
      { id: 'b', submittedAt: 0, completedAt: 1_220_000 },
    ]);
    expect(r.cumulatedMs).toBe(1_830_000);
    expect(r.makespanMs).toBe(1_220_000);
    expect(r.utilisation).toBeCloseTo(1200 / 1220, 9);
    expect(r.actions).toMatchObject({ run: 4, suspend: 0, resume: 0, migrate: 0 });
    expect(r.switches).toBe(2);
    expect(r.switchMs).toBe(20_000);
    expect(r.unfinished).toEqual([]);
  });

  it('accounts a fifo-ffd run computed by hand: an idle vjob makes room for a waiting one', () => {
    // t=0: only a fits at peak; it boots 0-10 s, then idles 600 s: done at 610 s.
    // t=30 s (next turn): a measures 0 CPU, so b (never measured: peak 2 CPUs) fits; it boots
    // 30-40 s and computes 300 s: done at 340 s. Cumulated: 610 + 340 = 950 s (FCFS: 610 + 920).
    const scenario = tiny(
      { phases: [{ durationMs: 10 * MIN, cpu: 0 }] },
      { phases: [{ durationMs: 5 * MIN, cpu: 1 }] },
    );
    const r = simulate(scenario, fifoFfd({ unmeasuredCpu: 1 }));
    expect(r.vjobs.map((j) => j.completedAt)).toEqual([610_000, 340_000]);
    expect(r.cumulatedMs).toBe(950_000);
    expect(r.makespanMs).toBe(610_000);
    expect(simulate(scenario, fcfs()).cumulatedMs).toBe(1_530_000);
    // Counting unmeasured VMs at half their peak (the default), both start at 0 and boot together:
    // a is done at 610 s, b at 10 + 300 = 310 s.
    expect(simulate(scenario, fifoFfd()).cumulatedMs).toBe(920_000);
  });

  it('slows vjobs that share an overloaded node, and fifo-ffd suspends the younger one', () => {
    const scenario = tiny(
      {
        phases: [
          { durationMs: MIN, cpu: 0 },
          { durationMs: 10 * MIN, cpu: 1 },
        ],
      },
      {
        submittedAt: 1,
        phases: [
          { durationMs: MIN, cpu: 0 },
          { durationMs: 10 * MIN, cpu: 1 },
        ],
      },
    );
    const r = simulate(scenario, fifoFfd());
    expect(r.unfinished).toEqual([]);
    expect(r.actions.suspend).toBe(2);
    expect(r.actions.resume).toBe(2);
    // a is never suspended: it finishes after its 11 minutes, 10 s of boot and a short slowdown.
    const a = r.vjobs[0]!.completedAt!;
    expect(a).toBeGreaterThan(11 * MIN + 10_000);
    expect(a).toBeLessThan(12 * MIN);
  });

  it('keeps the last good decision when the policy breaks, and reports it', () => {
    let calls = 0;
    const flaky: Policy = {
      name: 'flaky',
      decide: (view) => {
        if (++calls % 2 === 0) throw new Error('flake');
        return Object.fromEntries(view.queue.map((j) => [j.id, 'running']));
      },
    };
    const scenario = tiny({ phases: [{ durationMs: MIN, cpu: 0 }] }, { phases: [{ durationMs: MIN, cpu: 0 }] });
    const r = simulate(scenario, flaky);
    expect(r.unfinished).toEqual([]);
    expect(r.policyErrors.length).toBeGreaterThan(0);
    expect(r.policyErrors[0]).toContain("policy 'flaky' threw: flake");
  });

  it('keeps vjob states with consolidate: what never started never runs', () => {
    const scenario = tiny({ phases: [{ durationMs: MIN, cpu: 1 }] }, { phases: [{ durationMs: MIN, cpu: 1 }] });
    const r = simulate(scenario, consolidate(), { horizonMs: 10 * MIN });
    expect(r.unfinished).toEqual(['a', 'b']);
    expect(r.switches).toBe(0);
  });
});

describe('parseScenario', () => {
  it('names the JSON path of every problem', () => {
    const attempt = () =>
      parseScenario(
        {
          nodes: [{ id: 'n', cpu: -1, mem: 1 }],
          profiles: { p: { vms: { count: 2, cpu: 1, mem: 1 }, phases: [{ durationMs: 1, cpu: [1] }] } },
          vjobs: [{ id: 'a', profile: 'p' }, { id: 'b', profile: 'q' }, { id: 'c' }],
        },
        's.json',
      );
    expect(attempt).toThrow('$.nodes[0].cpu: must not be negative');
    const fixed = (vjobs: object[]) => () =>
      parseScenario(
        {
          nodes: [{ id: 'n', cpu: 1, mem: 1 }],
          profiles: { p: { vms: { count: 2, cpu: 1, mem: 1 }, phases: [{ durationMs: 1, cpu: [1, 2] }] } },
          vjobs,
        },
        's.json',
      );
    expect(fixed([{ id: 'a', profile: 'p' }])).toThrow(
      "$.profiles.p.phases[0].cpu[1]: use 2 exceeds the VM's peak demand 1",
    );
    expect(fixed([{ id: 'b', profile: 'q' }])).toThrow("$.vjobs[0].profile: unknown profile 'q' (profiles: p)");
    expect(fixed([{ id: 'c' }])).toThrow("$.vjobs[0]: needs a 'profile', or both 'vms' and 'phases'");
  });

  it('expands node groups and profiles', () => {
    const s = parseScenario({
      nodes: [{ id: 'n', count: 3, cpu: 2, mem: 4096 }],
      profiles: { p: { vms: { count: 2, cpu: 1, mem: 512 }, phases: [{ durationMs: 1000, cpu: 0.5 }] } },
      vjobs: [{ id: 'a', profile: 'p', timeScale: 2 }],
    });
    expect(s.nodes.map((n) => n.id)).toEqual(['n01', 'n02', 'n03']);
    expect(s.vjobs[0]!.phases).toEqual([{ durationMs: 2000, cpu: [0.5, 0.5] }]);
    expect(s.vjobs[0]!.vms.map((v) => v.id)).toEqual(['a-vm1', 'a-vm2']);
  });
});
