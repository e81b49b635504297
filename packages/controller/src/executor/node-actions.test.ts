import { describe, expect, it } from 'vitest';
import {
  type Configuration,
  type Constraint,
  contextSwitch,
  type Decision,
  DEFAULT_COST_MODEL,
  type FeasiblePlan,
  type VM,
} from '@entropy/engine';
import type { ExecutorEvent } from './events.ts';
import { assertExecutable, executePlan, type ExecuteOptions } from './execute-plan.ts';
import { MemoryTransport } from './memory-transport.ts';
import { toPlanProgress } from './nats-progress.ts';
import { type NodePower, NodePowerError, type NodePowerRequest } from './node-power.ts';

const node = (id: string, state: 'online' | 'offline' = 'online') => ({ id, capacity: { cpu: 4, mem: 4096 }, state });
const vm = (id: string, vjob: string, host: string | undefined, mem = 1024, cpu = 1): VM =>
  host === undefined
    ? { id, vjob, demand: { cpu, mem }, state: 'waiting' }
    : { id, vjob, demand: { cpu, mem }, state: 'running', host };

/**
 * n3 holds two VMs and must go offline; n4 is offline and must boot, for j9's VM that fits
 * nowhere else; v5 migrates off the overloaded n1 for a reason of its own.
 */
const configuration: Configuration = {
  nodes: [node('n1'), node('n2'), node('n3'), node('n4', 'offline')],
  vms: [
    vm('v1', 'j1', 'n3'),
    vm('v2', 'j2', 'n3'),
    vm('v3', 'j3', 'n1', 2048, 3),
    vm('v4', 'j3', 'n2', 2048, 3),
    vm('v9', 'j9', undefined, 4096, 4),
  ],
  vjobs: [
    { id: 'j1', vms: ['v1'], priority: 0, submittedAt: 0 },
    { id: 'j2', vms: ['v2'], priority: 0, submittedAt: 0 },
    { id: 'j3', vms: ['v3', 'v4'], priority: 0, submittedAt: 0 },
    { id: 'j9', vms: ['v9'], priority: 0, submittedAt: 0 },
  ],
};
const decision: Decision = { j9: 'running' };
const constraints: Constraint[] = [
  { type: 'offline', node: 'n3' },
  { type: 'online', node: 'n4' },
];

function plan(): FeasiblePlan {
  const p = contextSwitch(configuration, decision, DEFAULT_COST_MODEL, { constraints });
  if (!p.feasible) throw new Error(p.reason);
  return p;
}

/** A NodePower in memory: each call takes `ms`, `fail` makes one reject; every call and end is logged with the executor's events. */
function fakePower(
  log: string[],
  over: {
    fail?: Record<string, NodePowerError>;
    ms?: number;
    unsupported?: Partial<Record<'bootNode' | 'shutdownNode', string>>;
  } = {},
) {
  const calls: NodePowerRequest[] = [];
  const act = (what: string) => async (r: NodePowerRequest) => {
    calls.push(r);
    log.push(`${what}-called ${r.node}`);
    await new Promise((resolve) => setTimeout(resolve, over.ms ?? 5));
    const f = over.fail?.[`${what} ${r.node}`];
    if (f) throw f;
  };
  const power: NodePower = {
    unsupported: (type) => over.unsupported?.[type],
    boot: act('boot'),
    shutdown: act('shutdown'),
  };
  return { power, calls };
}

async function run(options: Partial<ExecuteOptions> & { power: NodePower }, log: string[]) {
  const p = plan();
  const transport = new MemoryTransport(configuration, { timeScale: 0.002 });
  const events: ExecutorEvent[] = [];
  const outcome = await executePlan(p, {
    planId: 'p1',
    configuration,
    decision,
    transport,
    nodePower: options.power,
    onEvent: (e) => {
      events.push(e);
      if (e.kind === 'action-started') log.push(`${e.action.type} ${e.action.vm} started`);
      if (e.kind === 'action-done') log.push(`${e.action.type} ${e.action.vm} done`);
      if (e.kind === 'node-action-done') log.push(`${e.nodeAction.type} ${e.nodeAction.node} done`);
    },
    ...options,
  });
  return { plan: p, transport, events, outcome };
}

describe('node power actions in barrier mode', () => {
  it('boots n4 before j9 runs there, shuts n3 down after both its VMs left, and lists them in the outcome', async () => {
    const log: string[] = [];
    const { power, calls } = fakePower(log);
    const { plan: p, outcome, events } = await run({ power }, log);
    expect(p.nodeActions?.map((a) => `${a.type} ${a.node}`).sort()).toEqual(['bootNode n4', 'shutdownNode n3']);
    expect(outcome.status).toBe('completed');
    expect(outcome.nodeActions.completed.map((c) => `${c.action.type} ${c.action.node}`).sort()).toEqual([
      'bootNode n4',
      'shutdownNode n3',
    ]);
    expect(outcome.nodeActions.failures).toEqual([]);
    const at = (line: string) => log.indexOf(line);
    expect(at('bootNode n4 done')).toBeLessThan(at('run v9 started'));
    expect(at('migrate v1 done')).toBeLessThan(at('shutdown-called n3'));
    expect(at('migrate v2 done')).toBeLessThan(at('shutdown-called n3'));
    expect(calls.map((c) => c.wireId).every((id) => /^p1:a\d+$/.test(id))).toBe(true);
    expect(Object.fromEntries(outcome.observed.nodes.map((n) => [n.id, n.state]))).toEqual({
      n1: 'online',
      n2: 'online',
      n3: 'offline',
      n4: 'online',
    });
    expect(outcome.observed.vms.find((v) => v.id === 'v9')).toMatchObject({ state: 'running', host: 'n4' });
    // Counted with the VM actions, and published with the node they act on.
    const end = events.at(-1)!;
    expect(end.counts).toMatchObject({ total: p.actions.length + 2, done: p.actions.length + 2 });
    const done = events.filter((e) => e.kind === 'node-action-done').map(toPlanProgress);
    expect(done.map((m) => m && [m.kind, m.node])).toEqual(
      expect.arrayContaining([
        ['action-done', 'n4'],
        ['action-done', 'n3'],
      ]),
    );
    expect(events.filter((e) => e.kind === 'step-done')).toHaveLength(p.steps);
  });

  it("stops the plan when a boot fails: nothing runs on n4, the failure is the plan's", async () => {
    const log: string[] = [];
    const { power } = fakePower(log, {
      fail: { 'boot n4': new NodePowerError('ENTROPY_BOOT_FAILED', 'n4', 'wake n4 exited with status 1') },
    });
    const { outcome, transport, events } = await run({ power }, log);
    expect(outcome.status).toBe('failed');
    expect(outcome.nodeActions.failures).toMatchObject([
      { action: { type: 'bootNode', node: 'n4' }, error: { code: 'ENTROPY_BOOT_FAILED' }, uncertain: false },
    ]);
    expect(transport.sends.some((s) => s.vm === 'v9')).toBe(false);
    expect(outcome.notStarted.map((a) => a.vm)).toContain('v9');
    expect(outcome.nodeActions.notStarted.map((a) => a.type)).toEqual(['shutdownNode']);
    expect(outcome.observed.nodes.find((n) => n.id === 'n4')?.state).toBe('offline');
    expect(toPlanProgress(events.at(-1)!)).toMatchObject({
      kind: 'plan-failed',
      error: { code: 'ENTROPY_BOOT_FAILED' },
    });
  });
});

describe('node power actions in ASAP mode', () => {
  it('starts each action once its dependencies, VM or node, are done: the run waits for the boot, the shutdown for the migrations', async () => {
    const log: string[] = [];
    const { power } = fakePower(log, { ms: 40 });
    const { plan: p, outcome } = await run({ power, mode: 'asap' }, log);
    expect(outcome.status).toBe('completed');
    const boot = p.nodeActions!.find((a) => a.type === 'bootNode')!;
    const shutdown = p.nodeActions!.find((a) => a.type === 'shutdownNode')!;
    const runV9 = p.actions.find((a) => a.vm === 'v9')!;
    expect(runV9.dependsOn).toContain(boot.id);
    expect(shutdown.dependsOn.length).toBeGreaterThan(0);
    const at = (line: string) => log.indexOf(line);
    expect(at('bootNode n4 done')).toBeLessThan(at('run v9 started'));
    for (const dep of shutdown.dependsOn) {
      const a = p.actions.find((x) => x.id === dep)!;
      expect(at(`${a.type} ${a.vm} done`)).toBeLessThan(at('shutdown-called n3'));
    }
    // Not a barrier: the migrations off n3 need not wait for the slow boot.
    expect(at('migrate v1 started')).toBeLessThan(at('bootNode n4 done'));
  });

  it("a refused shutdown stops the plan and is reported with the agent's code", async () => {
    const log: string[] = [];
    const refused = new NodePowerError(
      'ENTROPY_NODE_NOT_EMPTY',
      'n3',
      'n3 still holds VMs or images x9 (running): not powered off',
      { final: true },
    );
    const { power } = fakePower(log, { fail: { 'shutdown n3': refused } });
    const { outcome } = await run({ power, mode: 'asap' }, log);
    expect(outcome.status).toBe('failed');
    expect(outcome.nodeActions.failures[0]).toMatchObject({
      action: { type: 'shutdownNode', node: 'n3' },
      error: { code: 'ENTROPY_NODE_NOT_EMPTY', final: true },
    });
    expect(outcome.observed.nodes.find((n) => n.id === 'n3')?.state).toBe('online');
  });
});

describe('assertExecutable with node power actions', () => {
  it('refuses a boot the controller cannot run, naming why; accepts what its NodePower runs', () => {
    const p = plan();
    const base = { planId: 'p1', configuration, decision };
    const noBoot = fakePower([], {
      unsupported: { bootNode: 'no --boot-command: start the controller with --boot-command CMD' },
    }).power;
    expect(() => assertExecutable(p, { ...base, nodePower: noBoot })).toThrow(
      expect.objectContaining({
        code: 'ENTROPY_NODE_POWER_UNSUPPORTED',
        actionType: 'bootNode',
        node: 'n4',
        message: expect.stringMatching(/bootNode n4: no --boot-command/),
      }),
    );
    expect(() => assertExecutable(p, base)).toThrow(expect.objectContaining({ code: 'ENTROPY_PLAN_UNSUPPORTED' }));
    expect(() => assertExecutable(p, { ...base, nodePower: fakePower([]).power })).not.toThrow();
    // A shutdown alone needs no boot command.
    const empty: Configuration = { ...configuration, vms: [], vjobs: [] };
    const shutdown = contextSwitch(empty, {}, DEFAULT_COST_MODEL, { constraints: [{ type: 'offline', node: 'n3' }] });
    if (!shutdown.feasible) throw new Error(shutdown.reason);
    expect(shutdown.nodeActions?.map((a) => a.type)).toEqual(['shutdownNode']);
    expect(() =>
      assertExecutable(shutdown, { ...base, configuration: empty, decision: {}, nodePower: noBoot }),
    ).not.toThrow();
  });
});
