import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeControl, encodeControl, type StatusReply, subjects } from '@entropy/protocol';
import { connectNats, type NatsConnection } from '../packages/controller/src/controller/nats-connect.ts';
import { parseInstance } from '@entropy/engine';
import { startSimCluster, waitFor, type SimCluster } from './executor-cluster.ts';
import { type ControllerProcess, entropy, startControllerProcess, stopProcess } from './helpers/entropy-process.ts';
import { controllerStatus } from './helpers/controller-status.ts';
import { type NatsServer, startNatsServer } from './helpers/nats-server.ts';

const prefix = 'cli';
const s = subjects(prefix);

describe('entropy controller, status and apply as processes', () => {
  const dir = mkdtempSync(join(tmpdir(), 'entropy-cli-'));
  const instanceFile = join(dir, 'cluster.json');
  const hugeFile = join(dir, 'huge.json');
  const cluster = {
    nodes: ['c1', 'c2', 'c3'].map((id) => ({ id, cpu: 2, mem: 4096 })),
    vms: [
      { id: 'a-vm1', vjob: 'a', cpu: 1, mem: 512, state: 'running', host: 'c1' },
      { id: 'a-vm2', vjob: 'a', cpu: 1, mem: 512, state: 'running', host: 'c2' },
      { id: 'b-vm1', vjob: 'b', cpu: 1, mem: 256, state: 'sleeping', host: 'c3' },
      { id: 'b-vm2', vjob: 'b', cpu: 1, mem: 256, state: 'sleeping', host: 'c3' },
      { id: 'c-vm1', vjob: 'c', cpu: 1, mem: 128, state: 'waiting' },
    ],
    vjobs: [{ id: 'a' }, { id: 'b' }, { id: 'c' }],
    decision: { a: 'sleeping', b: 'running', c: 'running' },
    // Kept by apply's turn: c goes to c3, where b's images are, so one of b's VMs resumes elsewhere.
    constraints: [{ type: 'fence', vjob: 'c', nodes: ['c3'] }],
  };
  writeFileSync(instanceFile, JSON.stringify(cluster));
  writeFileSync(
    hugeFile,
    JSON.stringify({
      ...cluster,
      vms: [...cluster.vms, { id: 'h-vm1', vjob: 'h', cpu: 64, mem: 128, state: 'waiting' }],
      vjobs: [...cluster.vjobs, { id: 'h' }],
      decision: { h: 'running' },
    }),
  );
  let server: NatsServer;
  let controller: ControllerProcess;
  let agents: SimCluster;
  let nc: NatsConnection;

  const status = () => controllerStatus(nc, prefix);

  beforeAll(async () => {
    server = await startNatsServer();
    nc = await connectNats(server.url, 'test');
    controller = startControllerProcess(server.url, prefix);
    await waitFor('the controller to start', () => controller.log().includes('controller started'));
    agents = startSimCluster(parseInstance(cluster), { url: server.url, prefix, statusIntervalMs: 500, speed: 4 });
    for (;;) {
      const st = await status().catch(() => undefined);
      if (st && st.nodes.filter((n) => n.liveness === 'online').length === 3) break;
      await delay(100);
    }
  });

  afterAll(async () => {
    await agents?.stop();
    await stopProcess(controller);
    await nc?.close();
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('refuses to start a second controller on the same prefix, naming the first; the first serves on', async () => {
    const second = await entropy('controller', '--nats', server.url, '--prefix', prefix);
    expect(second.status, second.stderr).toBe(1);
    expect(second.stderr.trim().split('\n')).toHaveLength(1);
    expect(second.stderr).toMatch(
      /controller entropy-controller-\d+ already serves prefix cli on nats:\/\/127\.0\.0\.1:\d+: stop it first, or give this one another --prefix/,
    );
    expect((await status()).controller).toBe(`entropy-controller-${controller.child.pid}`);
  });

  it('entropy status prints nodes and VMs as a table, and as JSON with --json', async () => {
    const table = await entropy('status', '--nats', server.url, '--prefix', prefix);
    expect(table.status, table.stderr).toBe(0);
    expect(table.stdout).toContain('3/3 nodes online');
    expect(table.stdout).toMatch(/^c1\s+online\s+sim\s+/m);
    // VMs the controller has not been told about have no vjob: left out of planning, and said so.
    expect(table.stdout).toMatch(/a-vm1\s+-\s+c1\s+unmanaged/);
    const json = await entropy('status', '--nats', server.url, '--prefix', prefix, '--json');
    expect(json.status).toBe(0);
    const parsed = JSON.parse(json.stdout) as StatusReply;
    expect(parsed.nodes.map((n) => [n.id, n.liveness, n.capacity])).toEqual([
      ['c1', 'online', { cpu: 2, mem: 4096 }],
      ['c2', 'online', { cpu: 2, mem: 4096 }],
      ['c3', 'online', { cpu: 2, mem: 4096 }],
    ]);
  });

  it('entropy apply INSTANCE prints the plan, executes it and ends with measured vs estimated duration', async () => {
    const r = await entropy('apply', instanceFile, '--nats', server.url, '--prefix', prefix);
    expect(r.status, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^step 0 \(\d+ actions?\)/m);
    expect(r.stdout).toMatch(/plan apply-\S+ completed: \d+ actions in \d+ steps/);
    expect(r.stdout).toMatch(/measured \d+\.\d\ds vs estimated \d+\.\d\ds/);
    expect(r.stderr).toMatch(/step 0 done/);
    const st = await status();
    const where = Object.fromEntries(st.vms.map((v) => [v.id, [v.state, v.host ?? null]]));
    expect(where['a-vm1']?.[0]).toBe('sleeping');
    expect(where['a-vm2']?.[0]).toBe('sleeping');
    expect(where['b-vm1']?.[0]).toBe('running');
    expect(where['c-vm1']).toEqual(['running', 'c3']);
    expect(st.excluded).toEqual([]);
  });

  it('entropy apply with an inline decision, nothing to do: exit 0', async () => {
    const r = await entropy('apply', 'a=sleeping', '--nats', server.url, '--prefix', prefix);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain('nothing to do');
  });

  it('exits 2 with the reason when no plan reaches the decision', async () => {
    const r = await entropy('apply', hugeFile, '--nats', server.url, '--prefix', prefix);
    expect(r.status).toBe(2);
    expect(r.stdout).toMatch(/^infeasible: .*h/m);
  });

  it('exits 1 with a one-line error when the decision names an unknown vjob or no controller listens', async () => {
    const unknown = await entropy('apply', 'zz=running', '--nats', server.url, '--prefix', prefix);
    expect(unknown.status).toBe(1);
    expect(unknown.stdout).toContain('ENTROPY_INVALID_DECISION');
    const none = await entropy('apply', 'a=running', '--nats', server.url, '--prefix', 'nobody');
    expect(none.status).toBe(1);
    expect(none.stderr).toMatch(/^error: nobody\.control\.apply: no controller is listening/);
    expect(none.stderr).not.toMatch(/\n\s+at /);
  });

  it('answers a malformed apply request with ENTROPY_BAD_REQUEST and keeps running', async () => {
    const m = await nc.request(s.control('apply'), new Uint8Array([0xc1, 0x00]), { timeout: 10_000 });
    const r = decodeControl('applyReply', m.data);
    expect(r.ok && r.msg).toMatchObject({ ok: false, error: { code: 'ENTROPY_BAD_REQUEST', field: '$' } });
    const bad = await nc.request(s.control('apply'), encodeControl('statusRequest', {}), { timeout: 10_000 });
    expect(decodeControl('applyReply', bad.data)).toMatchObject({
      ok: true,
      msg: { ok: false, error: { code: 'ENTROPY_BAD_REQUEST', field: '$.planId' } },
    });
    expect((await status()).nodes).toHaveLength(3);
    expect(controller.child.exitCode).toBeNull();
  });

  it('logs pino JSON lines', () => {
    const lines = controller.log().trim().split('\n');
    for (const l of lines) expect(() => JSON.parse(l)).not.toThrow();
    expect(lines.map((l) => (JSON.parse(l) as { msg: string }).msg)).toContain('plan ended');
  });
});
