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
});
