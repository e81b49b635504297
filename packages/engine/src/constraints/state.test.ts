import { describe, expect, it } from 'vitest';
import {
  act,
  check,
  cluster,
  constraintMessage,
  node,
  nodeAct,
  planOf,
  solve,
  vm,
} from '@entropy/test-support/constraint-harness.ts';

// online, offline, running, ready, sleeping, killed: the constraints that set a final state.
describe('state constraints', () => {
  const c = () =>
    cluster(
      [node('n1'), node('n2'), node('n3', 4, 4096, 'offline')],
      [vm('a', 'n1'), vm('b', 'n2'), vm('w'), vm('s', 'n1', { state: 'sleeping' })],
    );

  it('running starts a waiting VM and resumes a sleeping one', () => {
    const plan = solve(c(), [
      { type: 'running', vm: 'w' },
      { type: 'running', vm: 's' },
    ]);
    expect(plan.target.w?.state).toBe('running');
    expect(plan.target.s?.state).toBe('running');
    expect(constraintMessage(c(), planOf([]), [{ type: 'running', vm: 'w' }])).toBe(
      'running(w) is violated: VM w ends waiting',
    );
    // The verifier replays against the decision the constraint makes, so it names the decision.
    expect(check(c(), planOf([]), [{ type: 'running', vm: 'w' }])).toBe(
      "VM 'w' ends waiting but the decision wants vjob 'w' running",
    );
  });

  it('sleeping suspends a running VM', () => {
    const plan = solve(c(), [{ type: 'sleeping', vm: 'a' }]);
    expect(plan.actions.map((x) => x.type).sort()).toEqual(['pause', 'suspend']);
    expect(constraintMessage(c(), planOf([]), [{ type: 'sleeping', vm: 'a' }])).toBe(
      'sleeping(a) is violated: VM a ends running',
    );
  });

  it('ready stops a running VM and keeps a waiting one waiting', () => {
    const plan = solve(c(), [
      { type: 'ready', vm: 'a' },
      { type: 'ready', vm: 'w' },
    ]);
    expect(plan.actions.map((x) => `${x.type} ${x.vm}`)).toEqual(['stop a']);
    expect(constraintMessage(c(), planOf([]), [{ type: 'ready', vm: 'b' }])).toBe(
      'ready(b) is violated: VM b ends running',
    );
  });

  it('killed terminates a VM', () => {
    const plan = solve(c(), [{ type: 'killed', vm: 'b' }]);
    expect(plan.target.b).toBeUndefined();
    expect(constraintMessage(c(), planOf([]), [{ type: 'killed', vm: 'b' }])).toBe(
      'killed(b) is violated: VM b ends running',
    );
    expect(check(c(), planOf([]), [{ type: 'killed', vm: 'b' }])).toBe(
      "VM 'b' ends running but the decision wants vjob 'b' terminated",
    );
  });

  it('online boots an offline node, before any VM arrives on it', () => {
    const crowded = cluster([node('n1', 1), node('n2', 4, 4096, 'offline')], [vm('a', 'n1'), vm('w')]);
    const plan = solve(crowded, [
      { type: 'online', node: 'n2' },
      { type: 'running', vm: 'w' },
    ]);
    const boot = plan.nodeActions!.find((a) => a.type === 'bootNode')!;
    expect(boot.node).toBe('n2');
    expect(plan.actions.find((a) => a.vm === 'w')!.start).toBeGreaterThanOrEqual(boot.end);
    expect(check(c(), planOf([]), [{ type: 'online', node: 'n3' }])).toBe(
      'online(n3) is violated: node n3 ends offline',
    );
  });

  it('offline evacuates a node, then shuts it down after the last VM has left', () => {
    const plan = solve(c(), [{ type: 'offline', node: 'n2' }]);
    const shutdown = plan.nodeActions!.find((a) => a.type === 'shutdownNode')!;
    const leave = plan.actions.find((a) => a.vm === 'b')!;
    expect(leave.type).toBe('migrate');
    expect(shutdown.start).toBeGreaterThanOrEqual(leave.end);
    expect(shutdown.dependsOn).toContain(leave.id);
    expect(check(c(), planOf([]), [{ type: 'offline', node: 'n2' }])).toBe(
      'offline(n2) is violated: node n2 ends online',
    );
  });

  it('the verifier refuses a shutdown while a VM is still on the node', () => {
    const plan = planOf(
      [act('migrate', 'b', { from: 'n2', to: 'n1' }, 0, 1000)],
      [nodeAct('shutdownNode', 'n2', 500, 900)],
    );
    expect(check(c(), plan, [])).toMatch(/node 'n2' shuts down at t=500 .* while VM 'b' is on it/);
  });

  it('the verifier refuses a VM arriving on a node before its boot ends', () => {
    const plan = planOf([act('run', 'w', { to: 'n3' }, 0, 5000)], [nodeAct('bootNode', 'n3', 0, 1000)]);
    expect(check(c(), plan, [], { w: 'running' })).toMatch(/VM 'w' is on node 'n3' .* before its boot ends at t=1000/);
  });

  it('contradicting state constraints make the instance infeasible, naming both', () => {
    const plan = solve(c(), []);
    expect(plan.actions).toEqual([]);
    expect(
      check(c(), planOf([]), [
        { type: 'running', vm: 'a' },
        { type: 'sleeping', vm: 'a' },
      ]),
    ).toMatch(/sleeping\(a\) and running\(a\) want vjob a in different states/);
  });
});
