import { mkdirSync } from 'node:fs';
import { ActionErrorCode, encode, type Logger, parseCommandTemplate, type PowerRequest } from '@entropy/protocol';
import { describe, expect, it } from 'vitest';
import { DriverError, type HypervisorDriver } from '../src/drivers/driver.ts';
import { simDriver, type SimVM } from '../src/drivers/sim-driver.ts';
import { powerOffHandler } from '../src/power-off.ts';
import { type AgentState, openAgentState } from '../src/state/agent-state.ts';
import { tempDirPerTest } from './temp-dir.ts';

const silent: Logger = { info() {}, warn() {}, error() {}, debug() {} };

const req = (over: Partial<PowerRequest> = {}): PowerRequest => ({
  actionId: 'p1:a9',
  planId: 'p1',
  type: 'shutdownNode',
  timeoutMs: 5000,
  ...over,
});

/** The power path of agent n1 on a state directory, over a sim driver holding `vms`, or another driver. */
function node(dir: string, over: { vms?: SimVM[]; driver?: HypervisorDriver; command?: string; fail?: string } = {}) {
  mkdirSync(dir, { recursive: true });
  const state: AgentState = openAgentState(dir, { node: 'n1', warn: () => {} });
  const driver =
    over.driver ??
    simDriver({
      node: 'n1',
      capacity: { cpu: 4, mem: 4096 },
      stateDir: dir,
      vms: over.vms ?? [],
      sleep: async () => {},
      peers: async () => ({ ok: true }),
    });
  const holds: boolean[] = [];
  const ran: string[][] = [];
  const handle = powerOffHandler({
    node: 'n1',
    driver,
    state,
    logger: silent,
    ...(over.command
      ? { command: parseCommandTemplate(over.command, { option: '--shutdown-command', placeholders: ['node'] }) }
      : {}),
    run: async (file, args) => {
      ran.push([file, ...args]);
      if (over.fail) throw new DriverError(ActionErrorCode.DriverFailed, over.fail);
      return { stdout: '', stderr: '' };
    },
    holdActions: (hold) => void holds.push(hold),
  });
  return { state, holds, ran, send: (r: PowerRequest) => handle(encode('powerRequest', r)), raw: handle };
}

const vm = (id: string, state: SimVM['state']): SimVM => ({ id, vjob: 'j1', state, demand: { cpu: 1, mem: 512 } });

describe('agent power-off', () => {
  const dir = tempDirPerTest('entropy-power-');

  it('sim without a shutdown command: powers off (simulated), holding new actions from the check on', async () => {
    const n = node(dir.path);
    const out = await n.send(req());
    expect(out).toMatchObject({ poweredOff: true, reply: { actionId: 'p1:a9', node: 'n1', ok: true } });
    // Held at the check and never released: the agent goes down with them refused.
    expect(n.holds).toEqual([true]);
    expect(n.ran).toEqual([]);
  });

  it('answers a repeat of the same request with the same outcome, and another id with ENTROPY_SHUTTING_DOWN', async () => {
    const n = node(dir.path, { command: 'poweroff-node {node}' });
    const [first, again] = await Promise.all([n.send(req()), n.send(req())]);
    expect(again).toEqual(first);
    expect(n.ran).toEqual([['poweroff-node', 'n1']]);
    expect(await n.send(req({ actionId: 'p2:a1' }))).toMatchObject({
      poweredOff: false,
      reply: { ok: false, error: { code: 'ENTROPY_SHUTTING_DOWN' } },
    });
  });

  it('refuses while the node holds a VM or an image, naming them, and serves actions again', async () => {
    const n = node(dir.path, { vms: [vm('v1', 'running'), vm('v2', 'sleeping')], command: 'poweroff-node' });
    const out = await n.send(req());
    expect(out.poweredOff).toBe(false);
    expect(out.reply).toMatchObject({ ok: false, final: true, error: { code: 'ENTROPY_NODE_NOT_EMPTY' } });
    expect(out.reply.error!.message).toMatch(
      /n1 still holds VMs or images v1 \(running\), v2 \(sleeping\): not powered off/,
    );
    expect(n.ran).toEqual([]);
    expect(n.holds).toEqual([true, false]);
    // Refused, it may be asked again (after the VMs left, say).
    expect((await n.send(req())).reply.error?.code).toBe('ENTROPY_NODE_NOT_EMPTY');
  });

  it('refuses while an action runs on the node', async () => {
    const n = node(dir.path);
    let finish: () => void = () => {};
    void n.state.ledger.submit(
      {
        actionId: 'p0:a1',
        planId: 'p0',
        type: 'run',
        vm: 'v9',
        vjob: 'j9',
        demand: { cpu: 1, mem: 1 },
        to: 'n1',
        estimatedMs: 1,
        timeoutMs: 1000,
      },
      () => new Promise((r) => (finish = () => r({ actionId: 'p0:a1', node: 'n1', ok: true, durationMs: 1 }))),
    );
    const out = await n.send(req());
    expect(out.reply.error?.message).toMatch(/running actions p0:a1/);
    finish();
  });

  it('runs the shutdown command without a shell, {node} substituted; a failure keeps the node serving', async () => {
    const n = node(dir.path, {
      command: `ipmi-off --host '{node}-bmc'`,
      fail: 'ipmi-off exited with status 1: no route',
    });
    const out = await n.send(req());
    expect(n.ran).toEqual([['ipmi-off', '--host', 'n1-bmc']]);
    expect(out).toMatchObject({
      poweredOff: false,
      reply: {
        ok: false,
        final: false,
        error: { code: 'ENTROPY_DRIVER_FAILED', message: 'ipmi-off exited with status 1: no route' },
      },
    });
    expect(n.holds).toEqual([true, false]);
  });

  it('refuses without a shutdown command on a driver that cannot simulate one, naming the option', async () => {
    const xl: HypervisorDriver = { name: 'xl', list: async () => [] } as unknown as HypervisorDriver; // only name and list are used
    const out = await node(dir.path, { driver: xl }).send(req());
    expect(out.reply).toMatchObject({ ok: false, final: true, error: { code: 'ENTROPY_POWER_UNSUPPORTED' } });
    expect(out.reply.error!.message).toMatch(/--shutdown-command/);
  });

  it('refuses a deposed leader, and a malformed request naming the field', async () => {
    const n = node(dir.path);
    n.state.token.admit(8);
    expect((await n.send(req({ token: 7 }))).reply).toMatchObject({
      ok: false,
      error: { code: 'ENTROPY_STALE_LEADER' },
    });
    const bad = await n.raw(encode('ledgerQuery', { actionIds: [] }));
    expect(bad).toMatchObject({
      poweredOff: false,
      reply: { actionId: '', ok: false, error: { code: 'ENTROPY_BAD_REQUEST', field: '$.actionId' } },
    });
    expect(n.holds).toEqual([]);
  });
});
