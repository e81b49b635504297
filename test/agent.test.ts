import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, type NatsConnection } from '../packages/agent/src/index.ts';
import { type ActionRequest, type ActionResult, decode, encode, subjects } from '@entropy/protocol';
import { type AgentProcess, spawnAgent } from './helpers/agent-process.ts';
import { type NatsServer, startNatsServer } from './helpers/nats-server.ts';
import { type PlayedController, playController } from './helpers/play-controller.ts';
import { waitFor } from './helpers/wait-for.ts';

const s = subjects();
const stateRoot = mkdtempSync(join(tmpdir(), 'entropy-agent-test-'));

function startAgent(url: string, node: string, statusArgs = ['--status-interval', '300']): AgentProcess {
  return spawnAgent([
    '--node',
    node,
    '--nats',
    url,
    '--driver',
    'sim',
    '--speed',
    '100',
    ...statusArgs,
    '--capacity',
    'cpu=4,mem=4096',
    '--sim-fail',
    'a-fail',
    '--state-dir',
    join(stateRoot, node),
  ]);
}

describe('entropy-agent with the sim driver on a real nats-server', () => {
  let server: NatsServer;
  let nc: NatsConnection;
  let ctl: PlayedController;
  const agents: Record<string, AgentProcess> = {};
  const statuses = { get: (node: string) => ctl.latest(node) };
  /** Every status of n3, whose periodic status is rare enough not to interfere. */
  const n3Statuses = () => ctl.statuses.filter((st) => st.status.node === 'n3');
  let n = 0;

  const send = (node: string, bytes: Uint8Array): Promise<ActionResult> => ctl.send(node, bytes);
  const act = (node: string, req: Partial<ActionRequest> & Pick<ActionRequest, 'type'>) =>
    send(
      node,
      encode('actionRequest', {
        actionId: `a${++n}`,
        planId: 'p1',
        vm: 'v1',
        vjob: 'j1',
        demand: { cpu: 1, mem: 1024 },
        estimatedMs: 1000,
        timeoutMs: 60_000,
        ...req,
      }),
    );

  beforeAll(async () => {
    server = await startNatsServer();
    nc = await connect({ servers: server.url });
    ctl = await playController(nc);
    for (const node of ['n1', 'n2']) agents[node] = startAgent(server.url, node);
    agents.n3 = startAgent(server.url, 'n3', ['--status-interval', '600000', '--status-after-action', '300']);
  });

  afterAll(async () => {
    for (const a of Object.values(agents)) if (a.child.exitCode === null) a.child.kill('SIGKILL');
    await nc?.close();
    await server?.stop();
    rmSync(stateRoot, { recursive: true, force: true });
  });

  it('announces itself and publishes its status periodically', async () => {
    await waitFor('hellos of n1 and n2', () => ctl.hellos.includes('n1') && ctl.hellos.includes('n2'));
    await waitFor('announced in the logs', () => agents.n1.logs.some((l) => l.msg === 'announced'));
    const st = await waitFor('a second status of n1', () => (statuses.get('n1')?.seq ?? 0) >= 2 && statuses.get('n1'));
    expect(st).toMatchObject({ node: 'n1', driver: 'sim', capacity: { cpu: 4, mem: 4096 }, vms: [] });
  });

  it('executes run, pause, suspend, resume, unpause and a migration to another agent', async () => {
    expect(await act('n1', { type: 'run', to: 'n1' })).toMatchObject({ ok: true, state: 'running', host: 'n1' });
    expect(await act('n1', { type: 'pause', from: 'n1' })).toMatchObject({ ok: true, state: 'paused' });
    expect(await act('n1', { type: 'suspend', from: 'n1' })).toMatchObject({ ok: true, state: 'sleeping', host: 'n1' });
    await waitFor('v1 sleeping on n1', () =>
      statuses.get('n1')?.vms.some((v) => v.id === 'v1' && v.state === 'sleeping'),
    );
    expect(await act('n1', { type: 'resume', from: 'n1', to: 'n1' })).toMatchObject({ ok: true, state: 'paused' });
    expect(await act('n1', { type: 'unpause', from: 'n1' })).toMatchObject({ ok: true, state: 'running' });
    const migrated = await act('n1', { type: 'migrate', from: 'n1', to: 'n2', estimatedMs: 20_000 });
    expect(migrated).toMatchObject({ ok: true, node: 'n1', state: 'running', host: 'n2' });
    expect(migrated.durationMs).toBeGreaterThanOrEqual(150);
    await waitFor('v1 running on n2 only', () => {
      const on2 = statuses.get('n2')?.vms.find((v) => v.id === 'v1');
      return on2?.state === 'running' && on2.host === 'n2' && !statuses.get('n1')?.vms.some((v) => v.id === 'v1');
    });
  });

  it('runs a retried action id once', async () => {
    const bytes = encode('actionRequest', {
      actionId: 'retry-1',
      planId: 'p1',
      type: 'run',
      vm: 'v2',
      vjob: 'j2',
      demand: { cpu: 1, mem: 512 },
      to: 'n1',
      estimatedMs: 100_000,
      timeoutMs: 60_000,
    });
    const [first, whileRunning] = await Promise.all([send('n1', bytes), delay(200).then(() => send('n1', bytes))]);
    const after = await send('n1', bytes);
    expect(first).toMatchObject({ actionId: 'retry-1', ok: true, state: 'running' });
    expect(first.deduplicated).toBeUndefined();
    expect(whileRunning).toMatchObject({ ok: true, deduplicated: true, durationMs: first.durationMs });
    expect(after).toMatchObject({ ok: true, deduplicated: true, durationMs: first.durationMs });
    expect(agents.n1.logs.filter((l) => l.msg === 'action started' && l.actionId === 'retry-1')).toHaveLength(1);
  });

  it('answers malformed and wrong-version requests with an error and keeps serving', async () => {
    const garbage = await send('n1', new Uint8Array([0xc1, 0xff, 0x00, 0x13]));
    expect(garbage).toMatchObject({ actionId: '', ok: false, error: { code: 'ENTROPY_BAD_REQUEST', field: '$' } });
    const noVm = encode('hello', { node: 'n1', driver: 'x', capacity: {}, startedAt: 0 });
    expect(await send('n1', noVm)).toMatchObject({
      ok: false,
      error: { code: 'ENTROPY_BAD_REQUEST', field: '$.actionId' },
    });
    // The codec writes the key `v` (0xa1 0x76) first, then the version as a positive fixint.
    const v2 = encode('actionRequest', {
      actionId: 'x',
      planId: 'p1',
      type: 'pause',
      vm: 'v1',
      vjob: 'j1',
      demand: { cpu: 1, mem: 1 },
      from: 'n1',
      estimatedMs: 1,
      timeoutMs: 1,
    });
    const at = v2.findIndex((b, i) => b === 0xa1 && v2[i + 1] === 0x76 && v2[i + 2] === 1);
    expect(at).toBeGreaterThan(0);
    v2[at + 2] = 2;
    expect(await send('n1', v2)).toMatchObject({ ok: false, error: { code: 'ENTROPY_BAD_REQUEST', field: '$.v' } });
    nc.publish(s.nodeAction('n1'), new Uint8Array([1, 2, 3]));
    expect(await act('n1', { type: 'pause', vm: 'v2', vjob: 'j2', from: 'n1' })).toMatchObject({
      ok: true,
      state: 'paused',
    });
    expect(agents.n1.child.exitCode).toBeNull();
  });

  it('reports a failing action with ok false and the error, and refuses an action meant for another node', async () => {
    const failed = await send(
      'n2',
      encode('actionRequest', {
        actionId: 'a-fail',
        planId: 'p1',
        type: 'pause',
        vm: 'v1',
        vjob: 'j1',
        demand: { cpu: 1, mem: 1024 },
        from: 'n2',
        estimatedMs: 10,
        timeoutMs: 60_000,
      }),
    );
    expect(failed).toMatchObject({
      actionId: 'a-fail',
      node: 'n2',
      ok: false,
      error: { code: 'ENTROPY_INJECTED_FAILURE' },
    });
    expect(await act('n2', { type: 'unpause', vm: 'v1', from: 'n2' })).toMatchObject({
      ok: false,
      error: { code: 'ENTROPY_INVALID_STATE' },
    });
    expect(await act('n2', { type: 'pause', from: 'n1' })).toMatchObject({
      ok: false,
      error: { code: 'ENTROPY_WRONG_NODE' },
    });
    expect(await act('n2', { type: 'pause', from: 'n2' })).toMatchObject({ ok: true, state: 'paused' });
  });

  it('publishes one status for actions that end together, after their results', async () => {
    await waitFor("n3's first status", () => n3Statuses().length > 0);
    const before = n3Statuses().length;
    const runs = ['w1', 'w2', 'w3', 'w4', 'w5'].map((vm) =>
      act('n3', { type: 'run', vm, to: 'n3', demand: { cpu: 0.5, mem: 256 }, estimatedMs: 0 }),
    );
    const results = await Promise.all(runs);
    const answeredAt = performance.now();
    expect(results.map((r) => r.ok && r.state)).toEqual(['running', 'running', 'running', 'running', 'running']);
    const after = await waitFor('a status of n3 with the five VMs', () => {
      const last = n3Statuses().at(-1);
      return (
        n3Statuses().length > before &&
        last!.status.vms.filter((v) => v.state === 'running').length === 5 &&
        n3Statuses().slice(before)
      );
    });
    // Published after the results, not one per action: the five ran within the agent's 300 ms.
    expect(after).toHaveLength(1);
    expect(after[0]!.at).toBeGreaterThanOrEqual(answeredAt);
    expect(after[0]!.status.inFlight).toBe(0);
  });

  it('powers its node off when asked: refuses while it holds a VM, then runs its --shutdown-command, replies ok and exits 0', async () => {
    const marker = join(stateRoot, 'n4-powered-off');
    const n4 = spawnAgent([
      '--node',
      'n4',
      '--nats',
      server.url,
      '--driver',
      'sim',
      '--speed',
      '100',
      '--status-interval',
      '300',
      '--capacity',
      'cpu=4,mem=4096',
      '--state-dir',
      join(stateRoot, 'n4'),
      '--shutdown-command',
      `touch '${marker}-{node}'`,
    ]);
    await waitFor('a status of n4', () => statuses.get('n4'));
    const power = async (actionId: string) => {
      const m = await nc.request(
        s.nodePower('n4'),
        encode('powerRequest', { actionId, planId: 'p1', type: 'shutdownNode', timeoutMs: 10_000 }),
        { timeout: 10_000 },
      );
      const r = decode('powerReply', m.data);
      if (!r.ok) throw new Error(r.error.reason);
      return r.msg;
    };
    expect(await act('n4', { type: 'run', vm: 'x1', vjob: 'jx', to: 'n4', estimatedMs: 0 })).toMatchObject({
      ok: true,
    });
    expect(await power('p1:s1')).toMatchObject({ ok: false, final: true, error: { code: 'ENTROPY_NODE_NOT_EMPTY' } });
    expect(n4.child.exitCode).toBeNull();
    expect(await act('n4', { type: 'stop', vm: 'x1', vjob: 'jx', from: 'n4', estimatedMs: 0 })).toMatchObject({
      ok: true,
    });
    expect(await power('p1:s2')).toMatchObject({ actionId: 'p1:s2', node: 'n4', ok: true });
    expect(await n4.exited).toBe(0);
    expect(existsSync(`${marker}-n4`)).toBe(true);
    expect(n4.logs.map((l) => l.msg)).toEqual(
      expect.arrayContaining([
        'powering off: running the shutdown command',
        'powered off: the agent stops',
        'agent stopped',
      ]),
    );
  });

  it('stops cleanly on SIGTERM', async () => {
    for (const a of Object.values(agents)) a.child.kill('SIGTERM');
    expect(await Promise.all(Object.values(agents).map((a) => a.exited))).toEqual([0, 0, 0]);
    expect(agents.n1.logs.at(-1)).toMatchObject({ msg: 'agent stopped' });
  });
});
