import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { askController } from '../packages/controller/src/controller/nats-connect.ts';
import { parseInstance } from '@entropy/engine';
import { encodeControl, subjects } from '@entropy/protocol';
import { type ControllerCluster, startControllerCluster } from './helpers/controller-cluster.ts';
import { controllerStatus } from './helpers/controller-status.ts';
import { entropy, logLines, stopProcess } from './helpers/entropy-process.ts';
import { waitFor } from './helpers/wait-for.ts';

const prefix = `power${process.pid}`;
const node = (id: string) => ({ id, cpu: 4, mem: 4096, state: 'online' });
const running = (id: string, vjob: string, host: string) => ({ id, vjob, cpu: 1, mem: 1024, state: 'running', host });

/** n3 holds two VMs; n1 and n2 have room for them. The operator's vjobs, registered by an apply. */
const instanceJson = {
  nodes: [node('n1'), node('n2'), node('n3')],
  vms: [running('v1', 'j1', 'n1'), running('v2', 'j2', 'n2'), running('v3', 'j3', 'n3'), running('v4', 'j4', 'n3')],
  vjobs: ['j1', 'j2', 'j3', 'j4'].map((id) => ({ id, priority: 0, submittedAt: 0 })),
  decision: { j1: 'running', j2: 'running', j3: 'running', j4: 'running' },
};
const instance = parseInstance(instanceJson);

const quote = (word: string) => `'${word.replaceAll("'", `'\\''`)}'`;

/**
 * A boot command as a real cluster would have one (IPMI, Wake-on-LAN), for sim agents: `boot.sh
 * NODE` starts the node's agent again, detached, on the state directory it had, and records its pid.
 * The QEMU lab plugs its own in: start the host's libvirtd, then its agent.
 */
describe('node power: entropy node shutdown and boot, executed by a controller with a boot command and sim agents', () => {
  const dir = mkdtempSync(join(tmpdir(), 'entropy-power-'));
  const bootScript = join(dir, 'boot.sh');
  const pidOf = (n: string) => join(dir, `${n}.pid`);
  let cluster: ControllerCluster;
  const cli = (...args: string[]) => entropy(...args, '--nats', cluster.server.url, '--prefix', prefix);
  const status = () => controllerStatus(cluster.nc, prefix);

  beforeAll(async () => {
    writeFileSync(bootScript, `#!/bin/sh\nexec sh "${dir}/start-$1.sh"\n`);
    cluster = await startControllerCluster({
      prefix,
      instance,
      speed: 20,
      controllerArgs: [
        '--boot-command',
        `sh ${quote(bootScript)} {node}`,
        '--boot-timeout',
        '60000',
        '--loop-interval',
        '1000',
      ],
    });
    for (const { id } of instance.configuration.nodes) {
      const line = cluster.agents.commandOf(id).map(quote).join(' ');
      writeFileSync(
        join(dir, `start-${id}.sh`),
        `${line} >>${quote(join(dir, `${id}.log`))} 2>&1 &\necho $! > ${quote(pidOf(id))}\n`,
      );
    }
    const file = join(dir, 'instance.json');
    writeFileSync(file, JSON.stringify(instanceJson));
    const registered = await cli('apply', file);
    expect(registered.stdout).toMatch(/nothing to do/);
  });

  afterAll(async () => {
    // The agents the boot command started are this test's: stopped by the pids they recorded.
    for (const { id } of instance.configuration.nodes) {
      if (!existsSync(pidOf(id))) continue;
      const pid = Number(readFileSync(pidOf(id), 'utf8'));
      try {
        process.kill(pid, 'SIGTERM');
      } catch {
        // already gone
      }
    }
    await cluster?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('entropy node shutdown n3: its VMs migrate away, then its agent powers off (the process exits) and the controller shows n3 offline at once', async () => {
    const r = await cli('node', 'shutdown', 'n3', '--wait', '60000');
    expect(r.stderr).toBe('');
    expect(r.stdout.trim()).toMatch(
      /^node n3 wanted offline \(online now\): 2 VM\(s\) move off n3 first: v3, v4\nnode n3 is powered off$/,
    );
    expect(r.status).toBe(0);
    // The agent replied, then ended its process as a powered-off node's agent does.
    expect(await cluster.agents.agents.get('n3')!.exited).toBe(0);
    const st = await status();
    expect(st.nodes.find((n) => n.id === 'n3')).toMatchObject({
      liveness: 'offline',
      poweredOff: true,
      wanted: 'offline',
    });
    const placed = Object.fromEntries(st.vms.map((v) => [v.id, `${v.state} ${v.host}`]));
    expect(placed.v3).toMatch(/^running n[12]$/);
    expect(placed.v4).toMatch(/^running n[12]$/);
    const lines = logLines(cluster.controller.log());
    const turn = lines.find(
      (l) =>
        l.msg === 'control loop turn' &&
        l.outcome === 'plan-started' &&
        (l.byType as Record<string, number>)?.shutdownNode === 1,
    );
    expect(turn?.byType).toEqual({ migrate: 2, shutdownNode: 1 });
    const offAt = lines.findIndex((l) => l.msg === 'node powered off' && l.node === 'n3');
    expect(offAt).toBeGreaterThan(-1);
    // Offline by the plan, not by three silent status periods.
    expect(lines.some((l) => l.msg === 'node offline: powered off by a plan' && l.node === 'n3')).toBe(true);
    expect(lines.some((l) => l.msg === 'node offline: no status for three periods' && l.node === 'n3')).toBe(false);
    // Nothing is planned on n3 while it is off; asking again changes nothing.
    const again = await cli('node', 'shutdown', 'n3');
    expect(again.stdout).toMatch(/node n3 wanted offline \(offline now\)/);
  });

  it('a controller restarted meanwhile knows n3 is powered off and wanted offline (the queue store), and does not wait for it', async () => {
    await stopProcess(cluster.controller, 'SIGKILL');
    await cluster.restart();
    const n3 = await waitFor("n3 in the new controller's status", async () =>
      (await status().catch(() => undefined))?.nodes.find((n) => n.id === 'n3'),
    );
    expect(n3).toMatchObject({
      liveness: 'offline',
      poweredOff: true,
      wanted: 'offline',
      capacity: { cpu: 4, mem: 4096 },
    });
    // Its first turns wait for n1 and n2 to report, never for n3: applies sent at once are refused
    // (or answered) without naming it.
    const refusals: string[] = [];
    const s = subjects(prefix);
    await waitFor('an apply answered', async () => {
      const r = await askController(
        cluster.nc,
        { subjects: s, url: cluster.server.url },
        'apply',
        encodeControl('applyRequest', { planId: `after-restart-${refusals.length}`, decision: { j1: 'running' } }),
        'applyReply',
        10_000,
      );
      if (r.ok) return true;
      refusals.push(r.error.message);
      return false;
    });
    expect(refusals.filter((m) => m.includes('n3'))).toEqual([]);
  });

  it('entropy node boot n3: the boot command runs, the agent says hello and reports, n3 is online and a later apply places a VM there', async () => {
    const r = await cli('node', 'boot', 'n3', '--wait', '60000');
    expect(r.stderr).toBe('');
    expect(r.stdout.trim()).toMatch(/^node n3 wanted online \(offline now\)\nnode n3 is online$/);
    expect(r.status).toBe(0);
    expect(existsSync(pidOf('n3'))).toBe(true);
    const lines = logLines(cluster.controller.log());
    expect(lines.find((l) => l.msg === 'booting a node: running the boot command')).toMatchObject({
      node: 'n3',
      command: expect.stringContaining('boot.sh n3'),
    });
    expect(lines.some((l) => l.msg === 'node booted: its agent said hello and reported' && l.node === 'n3')).toBe(true);
    await waitFor(
      'the wanted state dropped once n3 is online',
      async () => (await status()).nodes.find((n) => n.id === 'n3')?.wanted === undefined,
    );
    expect((await status()).nodes.find((n) => n.id === 'n3')).toMatchObject({ liveness: 'online' });
    expect((await status()).nodes.find((n) => n.id === 'n3')?.poweredOff).toBeUndefined();

    // A VM that fits only on the empty n3 (n1 and n2 hold two VMs each now).
    const file = join(dir, 'big.json');
    writeFileSync(
      file,
      JSON.stringify({
        nodes: instance.configuration.nodes.map((n) => node(n.id)),
        vms: [{ id: 'v5', vjob: 'j5', cpu: 4, mem: 4096, state: 'waiting' }],
        vjobs: [{ id: 'j5', priority: 0, submittedAt: 0 }],
        decision: { j5: 'running' },
      }),
    );
    const applied = await cli('apply', file);
    expect(applied.stdout).toMatch(/plan apply-\S+ completed: 1 actions/);
    expect(applied.status).toBe(0);
    await waitFor(
      'v5 running on n3',
      async () => (await status()).vms.find((v) => v.id === 'v5' && v.state === 'running')?.host === 'n3',
    );
  });

  it('refuses an unknown node, and a controller whose --boot-command does not parse does not start', async () => {
    const unknown = await cli('node', 'boot', 'n9');
    expect(unknown.stdout).toMatch(/^node boot refused \(ENTROPY_UNKNOWN_NODE\): no node n9/);
    expect(unknown.status).toBe(1);
    const bad = await entropy(
      'controller',
      '--nats',
      cluster.server.url,
      '--prefix',
      `${prefix}x`,
      '--boot-command',
      'wake-on-lan',
    );
    expect(bad.stderr).toMatch(/^error: --boot-command: must use \{node\}/);
    expect(bad.status).toBe(1);
  });
});
