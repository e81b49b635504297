import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseInstance } from '@entropy/engine';
import { type ControllerCluster, startControllerCluster } from './helpers/controller-cluster.ts';
import { entropy } from './helpers/entropy-process.ts';
import { waitFor } from './helpers/wait-for.ts';

const prefix = 'explain';

describe('entropy explain and the queue reason column, on a real cluster (nats-server, a controller process with fifo-ffd, sim agents)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'entropy-explain-'));
  let c: ControllerCluster;
  const cli = (...args: string[]) => entropy(...args, '--nats', c.server.url, '--prefix', prefix);
  const submit = async (id: string, mems: number[]) => {
    const file = join(dir, `${id}.json`);
    writeFileSync(file, JSON.stringify({ id, vms: mems.map((mem, i) => ({ id: `${id}-vm${i + 1}`, cpu: 1, mem })) }));
    const r = await cli('submit', file);
    expect(r.status, r.stderr).toBe(0);
  };
  const stateOf = async (id: string) => {
    const r = await cli('queue', '--json');
    return (JSON.parse(r.stdout) as { vjobs: { id: string; state: string }[] }).vjobs.find((v) => v.id === id)?.state;
  };

  beforeAll(async () => {
    const instance = parseInstance({
      nodes: [
        { id: 'n1', cpu: 2, mem: 4096 },
        { id: 'n2', cpu: 2, mem: 4096 },
      ],
      vms: [],
      vjobs: [],
    });
    c = await startControllerCluster({
      prefix,
      instance,
      speed: 20,
      controllerArgs: ['--policy', 'fifo-ffd', '--queue-store', 'kv'],
    });
  });

  afterAll(async () => {
    await c?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('names a waiting vjob’s queue position, the resource and amount it is short of, and the vjobs ahead of it', async () => {
    // big1 takes 3072 MiB on each node (memory counts at its demand, measured or not): 2048 MiB are left in all.
    await submit('big1', [3072, 3072]);
    await waitFor('big1 running', async () => (await stateOf('big1')) === 'running');
    await submit('wait1', [3072]);
    await submit('wait2', [1536]);

    const explained = await waitFor('an explanation of wait2 from a turn that saw it', async () => {
      const r = await cli('explain', 'wait2');
      return r.status === 0 && r.stdout.includes('position: 3') ? r : undefined;
    });
    const wait1 = await cli('explain', 'wait1');
    expect(wait1.status, wait1.stderr).toBe(0);
    expect(wait1.stdout).toMatch(/^vjob wait1: waiting \(priority 0, effective 0\.\d\d\), submitted \d+s ago$/m);
    expect(wait1.stdout).toMatch(/^ {2}queue position: 2 of 3 \(policy fifo-ffd\), 1 ahead: big1$/m);
    expect(wait1.stdout).toMatch(
      /^ {2}policy fifo-ffd decided: waiting: waits: needs mem 3072, 2048 free in all; 1 vjob ahead \(big1\)$/m,
    );
    expect(wait1.stdout).toMatch(/^ {2}short of: mem, needs 3072, 2048 free in all$/m);
    expect(wait1.stdout).toMatch(/^ {2}last turn: \d+s ago, no-change; wanted waiting$/m);

    // wait2 would fit in all (1536 of 2048) but not on one node (1024 each), behind big1 and wait1.
    expect(explained.stdout).toMatch(/^ {2}queue position: 3 of 3 \(policy fifo-ffd\), 2 ahead: big1, wait1$/m);
    expect(explained.stdout).toMatch(
      /waits: a VM needs mem 1536, at most 1024 free on one node; 2 vjobs ahead \(big1, wait1\)$/m,
    );

    const json = await cli('explain', 'wait1', '--json');
    expect(json.status, json.stderr).toBe(0);
    expect(JSON.parse(json.stdout)).toMatchObject({
      ok: true,
      policy: 'fifo-ffd',
      vjob: { id: 'wait1', state: 'waiting' },
      position: 2,
      queueLength: 3,
      policyDecided: 'waiting',
      short: { resource: 'mem', needed: 3072, free: 2048, scope: 'cluster' },
      ahead: ['big1'],
      aheadCount: 1,
      held: [],
    });

    const running = await cli('explain', 'big1');
    expect(running.stdout).toMatch(/runs: fits at position 1 of 3 \(effective priority \d+\.\d\d\); nobody ahead/);

    // entropy queue: the reason column, short form of the same explanation.
    const table = await cli('queue');
    expect(table.status, table.stderr).toBe(0);
    expect(table.stdout).toMatch(/^vjob\s+state\s+priority\s+effective\s+submitted\s+vms\s+hosts\s+reason$/m);
    expect(table.stdout).toMatch(
      /^wait1\s+waiting\s.*\swaits: needs mem 3072, 2048 free in all; 1 vjob ahead \(big1\)$/m,
    );
    expect(table.stdout).toMatch(/^big1\s+running\s.*\sruns: fits at position 1 of 3/m);
  });

  it('answers an unknown vjob with one line and exit code 3', async () => {
    const r = await cli('explain', 'nope');
    expect(r.status).toBe(3);
    expect(r.stdout.trim()).toBe("explain: no vjob 'nope' in the queue");
    expect(r.stderr).toBe('');
  });
});
