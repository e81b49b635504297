import { describe, expect, it } from 'vitest';
import { fifoFfd } from '@entropy/engine';
import type { QueuedVjobMessage } from '@entropy/protocol';
import { input, runAll, stored, viewOf, vm } from '../../test/support/turn-fixtures.ts';
import type { MonitorView } from '../monitor/index.ts';
import { reconcile, TurnOutcome } from './reconcile.ts';
import { explainVjob } from './vjob-explanation.ts';

const queued = (view: MonitorView, id: string): QueuedVjobMessage => {
  const vms = view.configuration.vms.filter((v) => v.vjob === id);
  return {
    id,
    state: vms.some((v) => v.state === 'running') ? 'running' : 'waiting',
    priority: 0,
    submittedAt: 0,
    vms: vms.map((v) => ({ id: v.id, demand: { ...v.demand }, state: v.state })),
  };
};

describe('explainVjob', () => {
  it('gives fifo-ffd’s reasons for the last turn: position, effective priority, the resource short, the vjobs ahead', () => {
    const view = viewOf([
      vm('a1', 'a', 'running', 'n1', 4, 3072),
      vm('a2', 'a', 'running', 'n2', 4, 3072),
      vm('b1', 'b', 'waiting', undefined, 1, 3072),
    ]);
    const policy = fifoFfd();
    const result = reconcile(input(view, { policy, vjobs: [stored('a'), stored('b', { submittedAt: 10 })] }));
    const e = explainVjob(queued(view, 'b'), { at: 900, result }, policy);
    expect(e).toMatchObject({
      turn: { at: 900, outcome: TurnOutcome.NoChange },
      policyDecided: 'waiting',
      position: 2,
      queueLength: 2,
      ahead: ['a'],
      aheadCount: 1,
      short: { resource: 'mem', needed: 3072, free: 2048, scope: 'cluster' },
      held: [],
    });
    // Aging: 999 ms waited (submitted at 1 in the configuration, now 1000) of a 10-minute period.
    expect(e.effectivePriority).toBeCloseTo(999 / 600_000, 9);
    expect(e.summary).toBe('waits: needs mem 3072, 2048 free in all; 1 vjob ahead (a)');
    expect(explainVjob(queued(view, 'a'), { at: 900, result }, policy).summary).toMatch(
      /^runs: fits at position 1 of 2/,
    );
  });

  it('says a start was put off for room and names the conflict of starts the turn found', () => {
    // Three 3-cpu vjobs on two 4-cpu nodes: the policy starts all, the engine only two.
    const view = viewOf(['a', 'b', 'c'].map((j) => vm(`${j}1`, j, 'waiting', undefined, 3, 512)));
    const vjobs = [stored('a'), stored('b', { submittedAt: 1 }), stored('c', { submittedAt: 2 })];
    const result = reconcile(input(view, { policy: runAll, vjobs }));
    expect(result.deferred).toEqual(['c']);
    expect(result.conflict?.starts).toEqual(['a', 'b', 'c']);
    expect(result.conflict?.constraints).toEqual([]);
    const e = explainVjob(queued(view, 'c'), { at: 900, result }, runAll);
    expect(e.policyDecided).toBe('running');
    // A policy without explain: no policy reason, nothing invented.
    expect(e.policyReason).toBeUndefined();
    expect(e.deferred).toBe('no room yet at the demands the engine plans with: the start waits for a later turn');
    expect(e.conflict).toMatchObject({ starts: ['a', 'b', 'c'], constraints: [], minimal: true });
    expect(e.conflict!.sentence).toMatch(/^running a, b and c do not fit: /);
    expect(e.summary).toMatch(/^no plan: running a, b and c do not fit: /);
  });

  it("an infeasible turn (an operator's start that fits nowhere): the turn keeps the conflict, explain shows it", () => {
    const view = viewOf([
      vm('a1', 'a', 'running', 'n1', 4),
      vm('b1', 'b', 'running', 'n2', 4),
      vm('x1', 'x', 'waiting', undefined, 2),
    ]);
    const result = reconcile(input(view, { vjobs: [stored('x')], overlay: { x: 'running' } }));
    expect(result.outcome).toBe(TurnOutcome.Infeasible);
    expect(result.conflict).toMatchObject({ starts: ['x'], constraints: [], minimal: true });
    // No constraint in the conflict: the engine's reason (room) stays the turn's.
    expect(result.reasons).toEqual([expect.stringMatching(/^cpu short by 2: /)]);
    const e = explainVjob(queued(view, 'x'), { at: 5, result }, undefined);
    expect(e.conflict?.sentence).toMatch(/^running x does not fit: /);
    expect(e.summary).toMatch(/^no plan: running x does not fit: /);
    expect(e.planned).toBe('running');
  });

  it('prints every held entry generically, with its kind when it has one', () => {
    const view = viewOf([vm('a1', 'a', 'waiting')]);
    const base = reconcile(input(view, { policy: runAll, vjobs: [stored('a')] }));
    const held = [
      { vjob: 'a', reason: 'migration budget of this turn spent (4 of 4)', kind: 'budget' as const },
      { vjob: 'a', reason: 'plan p7 waits for approval' },
      { vjob: 'other', reason: 'not this one' },
    ];
    const e = explainVjob(queued(view, 'a'), { at: 1, result: { ...base, held } }, runAll);
    expect(e.held).toEqual([
      { reason: 'migration budget of this turn spent (4 of 4)', kind: 'budget' },
      { reason: 'plan p7 waits for approval' },
    ]);
    expect(e.summary).toBe('held (budget): migration budget of this turn spent (4 of 4)');
  });

  it('without a turn yet, says so', () => {
    const view = viewOf([vm('a1', 'a', 'waiting')]);
    expect(explainVjob(queued(view, 'a'), undefined, runAll)).toEqual({
      held: [],
      notes: [],
      summary: 'no turn of the control loop yet',
    });
  });
});
