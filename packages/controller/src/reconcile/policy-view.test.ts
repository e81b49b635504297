import { describe, expect, it } from 'vitest';
import type { Configuration, VM } from '@entropy/engine';
import type { MonitorView } from '../monitor/index.ts';
import { policyViewOf, sizedByUsage } from './policy-view.ts';
import { vm } from '../../test/support/turn-fixtures.ts';

function viewOf(vms: VM[], usage: MonitorView['usage'] = {}): MonitorView {
  const vjobIds = [...new Set(vms.map((v) => v.vjob))];
  const configuration: Configuration = {
    nodes: [
      { id: 'n1', capacity: { cpu: 4, mem: 4096 }, state: 'online' },
      { id: 'n2', capacity: { cpu: 4, mem: 4096 }, state: 'online' },
    ],
    vms,
    vjobs: vjobIds.map((id, i) => ({
      id,
      vms: vms.filter((v) => v.vjob === id).map((v) => v.id),
      priority: 0,
      submittedAt: i,
    })),
  };
  return { at: 0, configuration, nodes: [], excluded: [], usage };
}

describe('policyViewOf', () => {
  it('shows the policy the queued vjobs only, on nodes whose room the other running VMs take', () => {
    const view = viewOf([vm('x1', 'applied', 'running', 'n1', 3, 3000), vm('q1', 'q', 'waiting')]);
    const pv = policyViewOf(view, new Set(['q']), 0);
    expect(pv.queue.map((j) => j.id)).toEqual(['q']);
    expect(pv.configuration.vms.map((v) => v.id)).toEqual(['q1']);
    expect(pv.configuration.nodes.map((n) => [n.id, n.capacity])).toEqual([
      ['n1', { cpu: 1, mem: 1096 }],
      ['n2', { cpu: 4, mem: 4096 }],
    ]);
  });
});

describe('sizedByUsage', () => {
  it('sizes running VMs at their measured CPU, memory at its demand', () => {
    const view = viewOf([vm('q1', 'q', 'running', 'n1', 4, 1024)], { q1: { cpu: 0.5, mem: 10 } });
    expect(sizedByUsage(view.configuration, view.usage).vms[0]!.demand).toEqual({ cpu: 0.5, mem: 1024 });
  });
});
