import { describe, expect, it } from 'vitest';
import type { Configuration, VM } from '../model/configuration.ts';
import { DEFAULT_COST_MODEL } from '../model/cost-model.ts';
import type { MonitorView } from '../monitor/index.ts';
import { fifoFfd, type Policy, type PolicyView } from '../policy/index.ts';
import { planPolicyTurn, policyViewOf, sizedByUsage } from './policy-turn.ts';

const vm = (id: string, vjob: string, state: VM['state'], host?: string, cpu = 1, mem = 1024): VM => ({ id, vjob, state, demand: { cpu, mem }, ...(host ? { host } : {}) });

function viewOf(vms: VM[], usage: MonitorView['usage'] = {}): MonitorView {
  const vjobIds = [...new Set(vms.map((v) => v.vjob))];
  const configuration: Configuration = {
    nodes: [{ id: 'n1', capacity: { cpu: 4, mem: 4096 }, state: 'online' }, { id: 'n2', capacity: { cpu: 4, mem: 4096 }, state: 'online' }],
    vms,
    vjobs: vjobIds.map((id, i) => ({ id, vms: vms.filter((v) => v.vjob === id).map((v) => v.id), priority: 0, submittedAt: i })),
  };
  return { at: 0, configuration, nodes: [], excluded: [], usage };
}

const turn = (view: MonitorView, policy: Policy, schedulable: string[], extra: { cancelling?: string[]; lastGood?: Record<string, 'running'> } = {}) =>
  planPolicyTurn({ view, policy, schedulable, cancelling: extra.cancelling ?? [], lastGood: extra.lastGood ?? {}, now: 0, costModel: DEFAULT_COST_MODEL });

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

describe('planPolicyTurn', () => {
  it('plans the policy decision for the queued vjobs and leaves the others alone', () => {
    const view = viewOf([vm('x1', 'applied', 'running', 'n1'), vm('q1', 'q', 'waiting'), vm('q2', 'q', 'waiting')]);
    const t = turn(view, fifoFfd(), ['q']);
    expect(t.error).toBeUndefined();
    expect(t.decision).toEqual({ q: 'running' });
    expect(t.plan!.actions.map((a) => [a.type, a.vm]).sort()).toEqual([['run', 'q1'], ['run', 'q2']]);
  });

  it('asks for cancelled vjobs to be terminated, whatever the policy says', () => {
    const view = viewOf([vm('c1', 'c', 'running', 'n1'), vm('q1', 'q', 'waiting')]);
    const runAll: Policy = { name: 'all', decide: (pv: PolicyView) => Object.fromEntries(pv.queue.map((j) => [j.id, 'running'])) };
    const t = turn(view, runAll, ['q'], { cancelling: ['c'] });
    expect(t.decision).toEqual({ q: 'running', c: 'terminated' });
    expect(t.plan!.actions.find((a) => a.vm === 'c1')?.type).toBe('stop');
  });

  it('reports a policy that throws and keeps the last good decision', () => {
    const view = viewOf([vm('q1', 'q', 'waiting')]);
    const broken: Policy = { name: 'broken', decide: () => { throw new Error('boom'); } };
    const t = turn(view, broken, ['q'], { lastGood: { q: 'running' } });
    expect(t.error?.code).toBe('ENTROPY_POLICY_FAILED');
    expect(t.error?.message).toMatch(/policy 'broken' threw: boom/);
    expect(t.decision).toEqual({ q: 'running' });
    expect(t.plan!.actions).toHaveLength(1);
  });

  it('reports a policy that names a vjob outside the queue as an invalid decision', () => {
    const view = viewOf([vm('x1', 'applied', 'running', 'n1'), vm('q1', 'q', 'waiting')]);
    const greedy: Policy = { name: 'greedy', decide: () => ({ applied: 'sleeping' }) };
    const t = turn(view, greedy, ['q']);
    expect(t.error?.code).toBe('ENTROPY_INVALID_DECISION');
    expect(t.decision).toEqual({});
    expect(t.plan).toBeUndefined();
  });

  it('starts the oldest vjobs that fit when the whole decision does not, and defers the others', () => {
    // Each vjob needs a whole node's memory; fifo-ffd counts waiting VMs at half their CPU, memory in full.
    const big = (j: string) => [vm(`${j}1`, j, 'waiting', undefined, 1, 4096)];
    const view = viewOf([...big('a'), ...big('b'), ...big('c')]);
    const runAll: Policy = { name: 'all', decide: (pv: PolicyView) => Object.fromEntries(pv.queue.map((j) => [j.id, 'running'])) };
    const t = turn(view, runAll, ['a', 'b', 'c']);
    expect(t.decision).toEqual({ a: 'running', b: 'running' });
    expect(t.deferred).toEqual(['c']);
    expect(t.plan!.actions.map((a) => a.vm).sort()).toEqual(['a1', 'b1']);
  });

  it('sizes running VMs at their measured CPU for a measured policy, at peak for a peak one', () => {
    const view = viewOf([vm('q1', 'q', 'running', 'n1', 4, 1024)], { q1: { cpu: 0.5, mem: 10 } });
    expect(sizedByUsage(view.configuration, view.usage).vms[0]!.demand).toEqual({ cpu: 0.5, mem: 1024 });
    expect(turn(view, fifoFfd(), ['q']).configuration.vms[0]!.demand.cpu).toBe(0.5);
    expect(turn(view, { name: 'p', sizing: 'peak', decide: () => ({}) }, ['q']).configuration.vms[0]!.demand.cpu).toBe(4);
  });
});
