import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, type NatsConnection } from '../packages/agent/src/index.ts';
import { type ActionRequest, type ActionResult, decode, encode, type NodeStatus, subjects } from '@entropy/protocol';
import { type AgentProcess, killAgent, spawnAgent } from './helpers/agent-process.ts';
import { type NatsServer, startNatsServer } from './helpers/nats-server.ts';
import { type PlayedController, playController } from './helpers/play-controller.ts';
import { waitFor } from './helpers/wait-for.ts';

const s = subjects();
const STATUS_MS = 500;
/** Slow actions take SLOW_MS (speed 1): long enough to kill their agent in the middle. */
const SLOW_MS = 2000;

/**
 * Level-triggered reconciliation needs agents that behave like nodes across their own crashes:
 * `kill -9` of an agent and a restart on the same state directory leave its VMs as they were,
 * never run an action id twice, and tell the controller what they know.
 */
describe('entropy-agent killed (-9) and restarted on its state directory', () => {
  const root = mkdtempSync(join(tmpdir(), 'entropy-restart-'));
  let server: NatsServer;
  let nc: NatsConnection;
  let ctl: PlayedController;
  const agents: Record<string, AgentProcess> = {};
  const spawned: AgentProcess[] = [];

  const start = (node: string): AgentProcess => {
    const a = spawnAgent([
      '--node',
      node,
      '--nats',
      server.url,
      '--driver',
      'sim',
      '--speed',
      '1',
      '--capacity',
      'cpu=4,mem=4096',
      '--status-interval',
      String(STATUS_MS),
      '--state-dir',
      join(root, node),
      '--sim-vms',
      join(root, `${node}.vms.json`),
    ]);
    spawned.push(a);
    agents[node] = a;
    return a;
  };
  /** kill -9, then a new process on the same state directory; resolves with the new process once it has started. */
  const crashAndRestart = async (node: string): Promise<{ agent: AgentProcess; spawnedAt: number }> => {
    await killAgent(agents[node]!);
    const spawnedAt = Date.now();
    const agent = start(node);
    await waitFor(`${node} restarted`, () => agent.logs.some((l) => l.msg === 'agent started'));
    return { agent, spawnedAt };
  };
  const request = (over: Partial<ActionRequest> & Pick<ActionRequest, 'actionId' | 'type'>): ActionRequest => ({
    planId: 'p1',
    vm: 'v1',
    vjob: 'j1',
    demand: { cpu: 1, mem: 512 },
    estimatedMs: 10,
    timeoutMs: 30_000,
    ...over,
  });
  const act = (node: string, req: ActionRequest): Promise<ActionResult> => ctl.send(node, encode('actionRequest', req));
  const startedLines = (a: AgentProcess, actionId: string) =>
    a.logs.filter((l) => l.msg === 'action started' && l.actionId === actionId);
  /** Sends an action that its agent will not live to finish; resolves once the agent has logged its start. */
  const actUntilStarted = async (node: string, req: ActionRequest) => {
    const reply = act(node, req).catch((err: Error) => err);
    await waitFor(`${req.actionId} started`, () => startedLines(agents[node]!, req.actionId).length > 0);
    // Wrapped: an async function returning the promise itself would wait for the reply.
    return { reply };
  };
  const vmsOf = (st: NodeStatus | undefined) =>
    (st?.vms ?? []).map((v) => ({ id: v.id, state: v.state, vjob: v.vjob, demand: v.demand }));
  /** The first status a process published (seq 0), once it arrives. */
  const firstStatusOf = (node: string, since: number) =>
    waitFor(
      `${node}'s first status after its restart`,
      () => ctl.statuses.find((x) => x.status.node === node && x.status.seq === 0 && x.status.ts >= since)?.status,
    );

  beforeAll(async () => {
    server = await startNatsServer();
    nc = await connect({ servers: server.url });
    ctl = await playController(nc);
    writeFileSync(join(root, 'n1.vms.json'), '[]');
    writeFileSync(
      join(root, 'n2.vms.json'),
      JSON.stringify([{ id: 's1', state: 'paused', demand: { cpu: 1, mem: 256 } }]),
    );
    start('n1');
    start('n2');
    await waitFor('both agents announced', () => ctl.hellos.includes('n1') && ctl.hellos.includes('n2'));
  });

  afterAll(async () => {
    await Promise.all(spawned.map(killAgent));
    await nc?.close();
    await server?.stop();
    rmSync(root, { recursive: true, force: true });
  });

  it('restarts with its VMs as they were before the cut action, reports them at once, and never runs that action again', async () => {
    expect(
      await act('n1', request({ actionId: 'k-run', type: 'run', to: 'n1', vjob: 'j1', demand: { cpu: 1, mem: 512 } })),
    ).toMatchObject({ ok: true, state: 'running' });
    const before = agents.n1!;
    await actUntilStarted('n1', request({ actionId: 'k-suspend', type: 'suspend', from: 'n1', estimatedMs: SLOW_MS }));
    const { agent, spawnedAt } = await crashAndRestart('n1');

    // (a) The first status of the new process, published at its start: v1 still running, with its vjob and demand.
    const first = await firstStatusOf('n1', spawnedAt);
    expect(vmsOf(first)).toEqual([{ id: 'v1', state: 'running', vjob: 'j1', demand: { cpu: 1, mem: 512 } }]);
    const startedAt = agent.logs.find((l) => l.msg === 'agent started')!.time as number;
    expect(first.ts - startedAt).toBeLessThan(STATUS_MS);
    expect(agent.logs.find((l) => String(l.msg).startsWith('actions cut short'))).toMatchObject({
      interrupted: ['k-suspend'],
    });

    // (b) The same id again: ENTROPY_INTERRUPTED, final, not run.
    const retry = await act(
      'n1',
      request({ actionId: 'k-suspend', type: 'suspend', from: 'n1', estimatedMs: SLOW_MS }),
    );
    expect(retry).toMatchObject({
      actionId: 'k-suspend',
      ok: false,
      final: true,
      error: { code: 'ENTROPY_INTERRUPTED' },
    });
    expect(retry.error!.message).toMatch(/restarted during suspend v1/);
    expect(startedLines(before, 'k-suspend')).toHaveLength(1);
    expect(startedLines(agent, 'k-suspend')).toHaveLength(0);

    // (c) The ledger tells what became of each id.
    const m = await nc.request(
      s.nodeLedger('n1'),
      encode('ledgerQuery', { actionIds: ['k-run', 'k-suspend', 'k-never'] }),
      { timeout: 10_000 },
    );
    const ledger = decode('ledgerReply', m.data);
    expect(ledger.ok && ledger.msg.entries.map((e) => [e.actionId, e.status, e.result?.ok])).toEqual([
      ['k-run', 'done', true],
      ['k-suspend', 'interrupted', false],
      ['k-never', 'unknown', undefined],
    ]);
  });

  it('refuses a request with an older fencing token, runs a newer one, and still refuses the old leader after a restart', async () => {
    expect(await act('n1', request({ actionId: 't-pause', type: 'pause', from: 'n1', token: 5 }))).toMatchObject({
      ok: true,
      state: 'paused',
    });
    const stale = await act('n1', request({ actionId: 't-unpause-old', type: 'unpause', from: 'n1', token: 4 }));
    expect(stale).toMatchObject({
      ok: false,
      final: true,
      error: { code: 'ENTROPY_STALE_LEADER', message: expect.stringMatching(/token 4 is older than 5/) },
    });
    expect(startedLines(agents.n1!, 't-unpause-old')).toHaveLength(0);
    expect(await act('n1', request({ actionId: 't-unpause', type: 'unpause', from: 'n1', token: 6 }))).toMatchObject({
      ok: true,
      state: 'running',
    });
    await crashAndRestart('n1');
    expect(await act('n1', request({ actionId: 't-pause-old', type: 'pause', from: 'n1', token: 5 }))).toMatchObject({
      error: { code: 'ENTROPY_STALE_LEADER' },
    });
    expect(startedLines(agents.n1!, 't-pause-old')).toHaveLength(0);
  });

  it('leaves a VM on exactly one node when the source of its migration dies mid-way, and migrates it after the restart', async () => {
    expect(await act('n1', request({ actionId: 'm-run', type: 'run', vm: 'v2', vjob: 'j2', to: 'n1' }))).toMatchObject({
      ok: true,
    });
    await actUntilStarted(
      'n1',
      request({ actionId: 'm-1', type: 'migrate', vm: 'v2', vjob: 'j2', from: 'n1', to: 'n2', estimatedMs: SLOW_MS }),
    );
    const killedAt = Date.now();
    await killAgent(agents.n1!);
    // Longer than the migration would have taken: nothing may complete it behind the dead source's back.
    await new Promise((r) => setTimeout(r, SLOW_MS + STATUS_MS));
    const spawnedAt = Date.now();
    start('n1');
    const first = await firstStatusOf('n1', spawnedAt);
    const n2 = await waitFor(
      'a status of n2 after the kill',
      () => ctl.statuses.filter((x) => x.status.node === 'n2' && x.status.ts > killedAt + SLOW_MS).at(-1)?.status,
    );
    const holders = [first, n2].filter((st) => st.vms.some((v) => v.id === 'v2')).map((st) => st.node);
    expect(holders).toEqual(['n1']);
    // Its source migrates it again at once (n2's reservation from the dead attempt is renewed), and the VM keeps its metadata.
    expect(
      await act('n1', request({ actionId: 'm-2', type: 'migrate', vm: 'v2', vjob: 'j2', from: 'n1', to: 'n2' })),
    ).toMatchObject({ ok: true, state: 'running', host: 'n2' });
    await waitFor('v2 on n2 only', () => {
      const on2 = ctl.latest('n2')?.vms.find((v) => v.id === 'v2');
      return on2?.vjob === 'j2' && !ctl.latest('n1')?.vms.some((v) => v.id === 'v2');
    });
  });

  it('keeps the metadata the controller gave a VM across a restart; --sim-vms seeds the first start only', async () => {
    await waitFor('s1 on n2 without a vjob', () =>
      ctl.latest('n2')?.vms.some((v) => v.id === 's1' && v.vjob === undefined),
    );
    const m = await nc.request(
      s.nodeMeta('n2'),
      encode('vmMeta', { vms: [{ vm: 's1', vjob: 'js', demand: { cpu: 1, mem: 256 } }] }),
      { timeout: 10_000 },
    );
    expect(decode('vmMetaAck', m.data)).toEqual({ ok: true, msg: { node: 'n2', updated: 1 } });
    await waitFor('s1 with its vjob in a status', () =>
      ctl.latest('n2')?.vms.some((v) => v.id === 's1' && v.vjob === 'js'),
    );
    writeFileSync(
      join(root, 'n2.vms.json'),
      JSON.stringify([{ id: 's9', state: 'running', demand: { cpu: 1, mem: 1 } }]),
    );
    const { spawnedAt } = await crashAndRestart('n2');
    const first = await firstStatusOf('n2', spawnedAt);
    expect(vmsOf(first).filter((v) => v.id.startsWith('s'))).toEqual([
      { id: 's1', state: 'paused', vjob: 'js', demand: { cpu: 1, mem: 256 } },
    ]);
  });
});
