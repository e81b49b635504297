import { describe, expect, it } from 'vitest';
import type { FeasiblePlan, PlannedAction } from '@entropy/engine';
import { budgetNews, MoveMemory } from './move-memory.ts';

const action = (id: string, type: PlannedAction['type'], vm: string): PlannedAction => ({
  id,
  type,
  vm,
  vjob: `j-${vm}`,
  from: 'n1',
  to: 'n2',
  start: 0,
  end: 1,
  step: 0,
  dependsOn: [],
});
const planOf = (...actions: PlannedAction[]): FeasiblePlan => ({
  feasible: true,
  actions,
  steps: 1,
  makespan: 1,
  sumCompletion: 1,
  solveMs: 0,
  target: {},
});

describe('MoveMemory', () => {
  it("remembers a plan's migrations for the hold, then forgets them", () => {
    const m = new MoveMemory(1000);
    m.record(['a'], 5000);
    expect([...m.since(5999)]).toEqual([['a', 5000]]);
    expect([...m.since(6000)]).toEqual([]);
  });

  it("keeps a VM's latest move: the journal's older record, read late after a takeover, does not shorten a hold", () => {
    const m = new MoveMemory(1000);
    m.record(['a'], 5000);
    m.record(['a', 'b'], 4500);
    expect([...m.since(5400)]).toEqual([
      ['a', 5000],
      ['b', 4500],
    ]);
  });

  it('remembers nothing without a hold', () => {
    const m = new MoveMemory(0);
    m.record(['a'], 5000);
    expect(m.since(5000).size).toBe(0);
  });

  it("names a plan's migrated VMs once each (a pivot migrates one twice)", () => {
    const m = new MoveMemory(1000);
    const plan = planOf(action('t1', 'migrate', 'a'), action('t2', 'resume', 'b'), action('t3', 'migrate', 'a'));
    expect(m.migratedBy(plan)).toEqual(['a']);
  });
});

describe('budgetNews', () => {
  it('tells a budget hold once, again when the vjobs or the budget change, not when only figures do', () => {
    const held = (vjob: string, reason: string) => [{ vjob, kind: 'budget' as const, reason }];
    const first = budgetNews(held('j1', 'rebalance held (minimum gain): 2.5% of a node'), '');
    expect(first.changed).toBe(true);
    expect(budgetNews(held('j1', 'rebalance held (minimum gain): 3.1% of a node'), first.key).changed).toBe(false);
    expect(budgetNews(held('j2', 'rebalance held (minimum gain): 3.1% of a node'), first.key).changed).toBe(true);
    expect(budgetNews([{ vjob: 'j1', reason: 'an agent is acting on v1' }], first.key)).toEqual({
      key: '',
      changed: false,
    });
  });
});
