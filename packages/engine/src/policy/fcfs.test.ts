import { describe, expect, it } from 'vitest';
import { fcfs } from './fcfs.ts';
import { cluster, node } from '@entropy/test-support/policy-cluster.ts';

const nodes = [node('n1', 2, 4096), node('n2', 2, 4096)];

describe('fcfs', () => {
  it('starts vjobs in submission order while their peak demand fits first-fit', () => {
    const view = cluster(nodes, {
      a: { state: 'waiting', vms: 2, submittedAt: 0 },
      b: { state: 'waiting', vms: 2, submittedAt: 1 },
      c: { state: 'waiting', vms: 1, submittedAt: 2 },
    });
    expect(fcfs().decide(view)).toEqual({ a: 'running', b: 'running' });
  });

  it('never preempts: a running vjob stays running even when idle and an urgent vjob waits', () => {
    const view = cluster(
      nodes,
      {
        old: { state: 'running', vms: 4, hosts: ['n1', 'n2'], usedCpu: 0, priority: 0, submittedAt: 0 },
        urgent: { state: 'waiting', vms: 1, priority: 100, submittedAt: 10 },
      },
      1e9,
    );
    const decision = fcfs().decide(view);
    expect(decision).toEqual({ old: 'running' });
    expect(Object.values(decision)).not.toContain('sleeping');
  });

  it('lets nobody overtake the first vjob that does not fit', () => {
    const view = cluster(nodes, {
      big: { state: 'waiting', vms: 5, submittedAt: 0 },
      small: { state: 'waiting', vms: 1, submittedAt: 1 },
    });
    expect(fcfs().decide(view)).toEqual({});
  });

  it('checks peak demand per node, not the cluster total', () => {
    // 3 CPUs free in total, but no node has room for a 2-CPU VM.
    const view = cluster([node('n1', 2, 4096), node('n2', 2, 4096)], {
      r: { state: 'running', vms: 1, cpu: 1, hosts: ['n1'] },
      w: { state: 'waiting', vms: 2, cpu: 1.5 },
    });
    expect(fcfs().decide(view)).toEqual({ r: 'running' });
  });

  it('sizes VMs at their peak for the engine', () => {
    expect(fcfs().sizing).toBe('peak');
  });

  it('explains each vjob: its position, what the first blocked one lacks, and who blocks the others', () => {
    const view = cluster(nodes, {
      r: { state: 'running', vms: 1, cpu: 1.5, hosts: ['n1'], submittedAt: 0 },
      a: { state: 'waiting', vms: 1, cpu: 1, submittedAt: 1 },
      big: { state: 'waiting', vms: 2, cpu: 2, submittedAt: 2 },
      small: { state: 'waiting', vms: 1, cpu: 0.5, submittedAt: 3 },
    });
    const reasons = fcfs().explain!(view);
    expect(reasons.r).toMatchObject({ decided: 'running', position: 1, aheadCount: 0 });
    expect(reasons.a!.reason).toBe('starts: its peak demand fits; 1 vjob ahead (r)');
    // 4 cpu in all, r and a hold 2.5: big needs 4, 1.5 free.
    expect(reasons.big).toMatchObject({
      position: 3,
      short: { resource: 'cpu', needed: 4, free: 1.5, scope: 'cluster' },
    });
    expect(reasons.big!.decided).toBeUndefined();
    expect(reasons.big!.reason).toBe('waits: needs cpu 4, 1.5 free in all; 2 vjobs ahead (r, a)');
    expect(reasons.small!.reason).toBe(
      'waits: behind big, which does not fit: fcfs lets no vjob overtake an earlier one; 3 vjobs ahead (r, a, big)',
    );
    // The reasons go with the decision.
    expect(fcfs().decide(view)).toEqual({ r: 'running', a: 'running' });
  });

  it("names a VM larger than any node's free room", () => {
    const view = cluster(nodes, { w: { state: 'waiting', vms: 1, cpu: 3 } });
    expect(fcfs().explain!(view).w!.reason).toBe('waits: a VM needs cpu 3, at most 2 free on one node; nobody ahead');
  });
});
