import { describe, expect, it } from 'vitest';
import { fifoFfd } from './fifo-ffd.ts';
import { cluster, node } from '@entropy/test-support/policy-cluster.ts';

const one = [node('n1', 2, 4096)];
const MIN = 60_000;

describe('fifo-ffd', () => {
  it('packs running vjobs on measured use, so idle vjobs leave room for waiting ones', () => {
    const view = cluster(one, {
      a: { state: 'running', vms: 2, usedCpu: 0.1, hosts: ['n1'], submittedAt: 0 },
      b: { state: 'waiting', vms: 1, submittedAt: 1 },
    });
    expect(fifoFfd().decide(view)).toEqual({ a: 'running', b: 'running' });
  });

  it('suspends the running vjob of lowest effective priority when the measured use overloads the node', () => {
    const view = cluster(
      one,
      {
        older: { state: 'running', vms: 1, usedCpu: 1, hosts: ['n1'], submittedAt: 0 },
        newer: { state: 'running', vms: 1, usedCpu: 1, hosts: ['n1'], submittedAt: 5 * MIN },
        newest: { state: 'running', vms: 1, usedCpu: 1, hosts: ['n1'], submittedAt: 6 * MIN },
      },
      10 * MIN,
    );
    expect(fifoFfd().decide(view)).toEqual({ older: 'running', newer: 'running', newest: 'sleeping' });
  });

  it('lets a vjob that does not fit wait, and backfills smaller ones behind it', () => {
    const view = cluster(one, {
      big: { state: 'waiting', vms: 3, submittedAt: 0 },
      small: { state: 'waiting', vms: 2, submittedAt: 1 },
    });
    expect(fifoFfd({ unmeasuredCpu: 1 }).decide(view)).toEqual({ big: 'waiting', small: 'running' });
    // Counted at half their peak, the three VMs of big fit and it starts.
    expect(fifoFfd().decide(view)).toEqual({ big: 'running', small: 'waiting' });
  });

  it('preempts a running vjob only for one of higher effective priority', () => {
    const situation = (now: number) =>
      cluster(
        one,
        {
          runner: { state: 'running', vms: 2, usedCpu: 1, hosts: ['n1'], priority: 0, submittedAt: 0 },
          urgent: { state: 'sleeping', vms: 2, usedCpu: 1, hosts: ['n1'], priority: 1, submittedAt: 0 },
        },
        now,
      );
    // Equal effective priorities: the running vjob keeps its room.
    const p = fifoFfd({ agingPeriodMs: 10 * MIN });
    expect(
      p.decide(
        cluster(
          one,
          {
            runner: { state: 'running', vms: 2, usedCpu: 1, hosts: ['n1'], submittedAt: 0 },
            peer: { state: 'sleeping', vms: 2, usedCpu: 1, hosts: ['n1'], submittedAt: 0 },
          },
          30 * MIN,
        ),
      ),
    ).toEqual({ runner: 'running', peer: 'sleeping' });
    // Higher effective priority: the running vjob is suspended.
    expect(p.decide(situation(30 * MIN))).toEqual({ runner: 'sleeping', urgent: 'running' });
  });

  it('prevents starvation: an old low-priority vjob ends up ahead of a stream of high-priority newcomers', () => {
    const p = fifoFfd({ agingPeriodMs: 10 * MIN });
    let runsAt: number | undefined;
    for (let now = 0; now <= 10 * 60 * MIN && runsAt === undefined; now += MIN) {
      // A fresh high-priority vjob keeps the node busy, resubmitted every minute.
      const view = cluster(
        one,
        {
          old: { state: 'waiting', vms: 2, priority: 0, submittedAt: 0 },
          hot: { state: 'running', vms: 2, usedCpu: 1, hosts: ['n1'], priority: 5, submittedAt: now },
        },
        now,
      );
      if (p.decide(view).old === 'running') runsAt = now;
    }
    expect(runsAt).toBe(51 * MIN);
  });

  it('explains each vjob: position, effective priority with aging, what a waiting one lacks and who is ahead', () => {
    const view = cluster(
      one,
      {
        old: { state: 'running', vms: 1, usedCpu: 1.5, hosts: ['n1'], priority: 0, submittedAt: 0 },
        urgent: { state: 'waiting', vms: 1, cpu: 1, priority: 2, submittedAt: 20 * MIN },
        big: { state: 'waiting', vms: 3, cpu: 2, priority: 0, submittedAt: 10 * MIN },
      },
      30 * MIN,
    );
    const p = fifoFfd({ agingPeriodMs: 10 * MIN, unmeasuredCpu: 0.5 });
    const reasons = p.explain!(view);
    // Effective priorities: urgent 2 + 1 = 3, old 0 + 3 = 3 (running first on ties), big 0 + 2 = 2.
    expect(reasons.old).toMatchObject({ decided: 'running', position: 1, effectivePriority: 3, aheadCount: 0 });
    expect(reasons.urgent).toMatchObject({ decided: 'running', position: 2, effectivePriority: 3, ahead: ['old'] });
    // 2 cpu, old uses 1.5: urgent's 0.5 (half its peak, never measured) fits exactly, so it runs.
    expect(reasons.urgent!.reason).toBe(
      'starts: fits at position 2 of 3 (effective priority 3.00); 1 vjob ahead (old)',
    );
    expect(reasons.big).toMatchObject({
      decided: 'waiting',
      position: 3,
      effectivePriority: 2,
      ahead: ['old', 'urgent'],
      aheadCount: 2,
      short: { resource: 'cpu', needed: 3, scope: 'cluster' },
    });
    expect(reasons.big!.reason).toBe('waits: needs cpu 3, 0 free in all; 2 vjobs ahead (old, urgent)');
    expect(p.decide(view)).toEqual(Object.fromEntries(Object.entries(reasons).map(([id, r]) => [id, r.decided])));
  });
});
