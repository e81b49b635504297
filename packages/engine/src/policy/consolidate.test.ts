import { describe, expect, it } from 'vitest';
import { consolidate } from './consolidate.ts';
import { cluster, node } from '@entropy/test-support/policy-cluster.ts';

describe('consolidate', () => {
  it('keeps every vjob in its state: running ones run, the others are not named', () => {
    const view = cluster([node('n1', 2, 4096), node('n2', 2, 4096)], {
      a: { state: 'running', vms: 2, hosts: ['n1', 'n2'], usedCpu: 0.1 },
      b: { state: 'sleeping', vms: 1, hosts: ['n2'] },
      c: { state: 'waiting', vms: 1 },
    });
    expect(consolidate().decide(view)).toEqual({ a: 'running' });
  });

  it('sizes VMs on measured use and asks the engine to pack', () => {
    const p = consolidate();
    expect(p.sizing).toBe('measured');
    expect(p.hints?.consolidate).toBe(true);
  });
});
