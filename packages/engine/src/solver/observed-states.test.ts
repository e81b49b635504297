import { describe, expect, it } from 'vitest';
import type { Configuration, Decision, VM } from '../model/configuration.ts';
import { costModelWith } from '../model/cost-model.ts';
import type { VMState } from '../model/lifecycle.ts';
import type { FeasiblePlan, PlannedAction } from '../model/plan.ts';
import { verifyPlan } from '../verifier/index.ts';
import { contextSwitch } from './context-switch.ts';

/**
 * Plans from the states an interrupted plan leaves: a vjob caught between its resumes and its
 * unpause, between its pause and its saves, or with a restore that failed.
 */

const node = (id: string, cpu = 4, mem = 8192) => ({ id, capacity: { cpu, mem }, state: 'online' as const });

/** Vjob j1's nine VMs, three per node n1-n3, in the given states (a sleeping VM's image stays on its node). */
function nineVms(states: readonly VMState[]): VM[] {
  return states.map((state, i) => ({
    id: `j1-vm${i + 1}`,
    vjob: 'j1',
    state,
    demand: { cpu: 1, mem: 1024 },
    ...(state === 'waiting' ? {} : { host: `n${Math.floor(i / 3) + 1}` }),
  }));
}

function configurationOf(nodes: Configuration['nodes'], vms: readonly VM[]): Configuration {
  const ids = [...new Set(vms.map((v) => v.vjob))];
  return {
    nodes,
    vms,
    vjobs: ids.map((id) => ({
      id,
      vms: vms.filter((v) => v.vjob === id).map((v) => v.id),
      priority: 0,
      submittedAt: 0,
    })),
  };
}

/** The plan, verified, with every VM of j1 ending in `ends`. */
function planOf(
  configuration: Configuration,
  decision: Decision,
  ends: 'running' | 'sleeping' | 'terminated',
): FeasiblePlan {
  const plan = contextSwitch(configuration, decision, costModelWith());
  if (!plan.feasible) throw new Error(`expected a plan, got: ${plan.reason}`);
  expect(verifyPlan(configuration, decision, plan)).toEqual({ ok: true });
  for (const v of configuration.vms.filter((x) => x.vjob === 'j1'))
    expect(plan.target[v.id]?.state ?? 'terminated').toBe(ends);
  return plan;
}

const ofType = (plan: FeasiblePlan, type: PlannedAction['type']) => plan.actions.filter((a) => a.type === type);
const typesOf = (plan: FeasiblePlan) => [...new Set(plan.actions.map((a) => a.type))].sort();
/** Whether the actions run as one group: one start, one end, one step. */
const together = (actions: readonly PlannedAction[]) =>
  new Set(actions.map((a) => `${a.start}/${a.end}/${a.step}`)).size === 1;

const nodes = [node('n1'), node('n2'), node('n3')];

describe('a vjob whose VMs are all paused (a crash between its resumes and its unpause)', () => {
  const all = configurationOf(nodes, nineVms(Array(9).fill('paused')));

  it.each<[string, Decision]>([
    ['running', { j1: 'running' }],
    ['not named by the decision (it goes back to running)', {}],
  ])('is unpaused as one group of nine, and nothing else, when %s', (_, decision) => {
    const plan = planOf(all, decision, 'running');
    const unpauses = ofType(plan, 'unpause');
    expect(plan.actions).toHaveLength(9);
    expect(unpauses).toHaveLength(9);
    expect(together(unpauses)).toBe(true);
    expect(unpauses[0]!.start).toBe(0);
  });

  it('is saved at once when sleeping: nine suspends, no pause', () => {
    const plan = planOf(all, { j1: 'sleeping' }, 'sleeping');
    expect(typesOf(plan)).toEqual(['suspend']);
    expect(plan.actions).toHaveLength(9);
  });

  it('is stopped when terminated: nine stops', () => {
    const plan = planOf(all, { j1: 'terminated' }, 'terminated');
    expect(typesOf(plan)).toEqual(['stop']);
    expect(plan.actions).toHaveLength(9);
  });
});

describe('a vjob whose pause failed half way (3 paused, 6 running)', () => {
  const half = configurationOf(
    nodes,
    nineVms(['paused', 'running', 'running', 'paused', 'running', 'running', 'paused', 'running', 'running']),
  );

  it('pauses the six running VMs as one group, then saves all nine, when sleeping', () => {
    const plan = planOf(half, { j1: 'sleeping' }, 'sleeping');
    const pauses = ofType(plan, 'pause');
    expect(pauses.map((a) => a.vm).sort()).toEqual(['j1-vm2', 'j1-vm3', 'j1-vm5', 'j1-vm6', 'j1-vm8', 'j1-vm9']);
    expect(together(pauses)).toBe(true);
    const suspends = ofType(plan, 'suspend');
    expect(suspends).toHaveLength(9);
    for (const s of suspends) {
      expect(s.start).toBeGreaterThanOrEqual(pauses[0]!.end);
      expect(s.step).toBeGreaterThan(pauses[0]!.step);
    }
    expect(plan.actions).toHaveLength(15);
  });

  it('unpauses the three paused VMs as one group, and nothing else, when running', () => {
    const plan = planOf(half, { j1: 'running' }, 'running');
    const unpauses = ofType(plan, 'unpause');
    expect(unpauses.map((a) => a.vm).sort()).toEqual(['j1-vm1', 'j1-vm4', 'j1-vm7']);
    expect(together(unpauses)).toBe(true);
    expect(plan.actions).toHaveLength(3);
  });
});

describe('a vjob whose resume failed for one VM (8 paused, 1 sleeping)', () => {
  const states: VMState[] = [...Array<VMState>(8).fill('paused'), 'sleeping'];
  const restored = configurationOf(nodes, nineVms(states));

  it('resumes the sleeping VM, then unpauses all nine together once it is restored, when running', () => {
    const plan = planOf(restored, { j1: 'running' }, 'running');
    const [resume, ...more] = ofType(plan, 'resume');
    expect(more).toEqual([]);
    expect(resume!.vm).toBe('j1-vm9');
    const unpauses = ofType(plan, 'unpause');
    expect(unpauses).toHaveLength(9);
    expect(together(unpauses)).toBe(true);
    expect(unpauses[0]!.start).toBe(resume!.end);
    for (const u of unpauses) expect(u.dependsOn).toContain(resume!.id);
    expect(plan.actions).toHaveLength(10);
  });

  it('saves the eight paused VMs when sleeping', () => {
    const plan = planOf(restored, { j1: 'sleeping' }, 'sleeping');
    expect(typesOf(plan)).toEqual(['suspend']);
    expect(plan.actions.map((a) => a.vm).sort()).toEqual(
      states.flatMap((s, i) => (s === 'paused' ? [`j1-vm${i + 1}`] : [])).sort(),
    );
  });
});

describe('a paused VM on an overloaded node', () => {
  // n1 holds two running VMs of other vjobs and j1's small paused VM: one too many.
  const vms: VM[] = [
    { id: 'a', vjob: 'ja', state: 'running', host: 'n1', demand: { cpu: 1, mem: 2048 } },
    { id: 'b', vjob: 'jb', state: 'running', host: 'n1', demand: { cpu: 1, mem: 2048 } },
    { id: 'p1', vjob: 'j1', state: 'paused', host: 'n1', demand: { cpu: 1, mem: 512 } },
    { id: 'p2', vjob: 'j1', state: 'paused', host: 'n2', demand: { cpu: 1, mem: 512 } },
  ];
  const overloaded = configurationOf([node('n1', 2, 8192), node('n2', 4, 8192)], vms);

  it('migrates it while paused, then unpauses it with its vjob once it has arrived', () => {
    const plan = planOf(overloaded, { j1: 'running' }, 'running');
    const [move, ...more] = ofType(plan, 'migrate');
    expect(more).toEqual([]);
    expect(move).toMatchObject({ vm: 'p1', from: 'n1', to: 'n2' });
    const unpauses = ofType(plan, 'unpause');
    expect(unpauses.map((a) => a.vm).sort()).toEqual(['p1', 'p2']);
    expect(together(unpauses)).toBe(true);
    expect(unpauses[0]!.start).toBe(move!.end);
    expect(unpauses.find((u) => u.vm === 'p1')).toMatchObject({ from: 'n2' });
    for (const u of unpauses) expect(u.dependsOn).toContain(move!.id);
    expect(plan.actions).toHaveLength(3);
  });
});

describe('a vjob whose VMs are in several other states', () => {
  it('goes back to running when the decision does not name it and it is half asleep, half waiting', () => {
    const vms: VM[] = [
      { id: 'j1-vm1', vjob: 'j1', state: 'sleeping', host: 'n1', demand: { cpu: 1, mem: 1024 } },
      { id: 'j1-vm2', vjob: 'j1', state: 'waiting', demand: { cpu: 1, mem: 1024 } },
    ];
    const plan = planOf(configurationOf(nodes, vms), {}, 'running');
    expect(plan.actions.map((a) => `${a.type} ${a.vm}`).sort()).toEqual([
      'resume j1-vm1',
      'run j1-vm2',
      'unpause j1-vm1',
    ]);
  });

  it('reports a decision one of its VMs cannot reach as infeasible, naming the VM', () => {
    const vms: VM[] = [
      { id: 'j1-vm1', vjob: 'j1', state: 'paused', host: 'n1', demand: { cpu: 1, mem: 1024 } },
      { id: 'j1-vm2', vjob: 'j1', state: 'waiting', demand: { cpu: 1, mem: 1024 } },
    ];
    const plan = contextSwitch(configurationOf(nodes, vms), { j1: 'sleeping' }, costModelWith());
    expect(plan).toMatchObject({
      feasible: false,
      reason:
        "vjob 'j1': VM 'j1-vm2' is waiting (never ran): it cannot go to sleeping (from waiting the life cycle allows waiting, running, terminated)",
    });
  });
});
