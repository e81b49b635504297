import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseInstance } from '@entropy/engine';
import { reviewInstanceJson, reviewNode } from '@entropy/test-support/review-scenario.ts';
import { type ControllerCluster, startControllerCluster } from './helpers/controller-cluster.ts';
import { controllerStatus } from './helpers/controller-status.ts';
import { entropy, logLines } from './helpers/entropy-process.ts';
import { waitFor } from './helpers/wait-for.ts';

/** test-support's review scenario: j3 waits for a whole node, which only j2's sleep frees (n2). */
const instanceJson = reviewInstanceJson;

interface SavedFile {
  id: string;
  decision: Record<string, string>;
  configuration: { vms: { id: string; state: string; host?: string }[] };
  plan: { actions: { id: string; vjob: string; vm: string; type: string }[] };
}

describe('review before apply: saved plans and skips, on a real nats-server, a controller process and sim agents', () => {
  const prefix = `review${process.pid}`;
  const dir = mkdtempSync(join(tmpdir(), 'entropy-review-'));
  let cluster: ControllerCluster;
  const cli = (...args: string[]) => entropy(...args, '--nats', cluster.server.url, '--prefix', prefix);
  const vmOf = async (id: string) => (await controllerStatus(cluster.nc, prefix)).vms.find((v) => v.id === id);
  const saved = (file: string) => JSON.parse(readFileSync(file, 'utf8')) as SavedFile;

  beforeAll(async () => {
    cluster = await startControllerCluster({
      prefix,
      instance: parseInstance(instanceJson),
      speed: 20,
      controllerArgs: ['--loop-interval', '1000'],
    });
    const file = join(dir, 'instance.json');
    writeFileSync(file, JSON.stringify(instanceJson));
    const registered = await cli('apply', file);
    expect(registered.stdout, registered.stderr).toMatch(/nothing to do/);
  });

  afterAll(async () => {
    await cluster?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('a saved plan is refused with the first difference and exit code 5 once another apply changed a VM it touches', async () => {
    const a = join(dir, 'a.json');
    const out = await cli('plan-from-cluster', 'j1=sleeping', '--out', a);
    expect(out.status, out.stderr).toBe(0);
    expect(out.stdout).toMatch(/saved plan apply-\S+ to/);
    const file = saved(a);
    expect(file.decision).toEqual({ j1: 'sleeping' });
    expect(file.configuration.vms.find((v) => v.id === 'j1-vm1')).toMatchObject({ state: 'running', host: 'n1' });
    expect(file.plan.actions.map((x) => x.type).sort()).toEqual(['pause', 'pause', 'suspend', 'suspend']);
    // The action ids the file holds are the ones the printed plan shows.
    for (const x of file.plan.actions) expect(out.stdout).toMatch(new RegExp(`${x.type}\\s+${x.vm}\\s.*\\s${x.id}\\n`));

    const other = await cli('apply', 'j1=sleeping');
    expect(other.status, other.stdout + other.stderr).toBe(0);
    expect((await vmOf('j1-vm1'))?.state).toBe('sleeping');

    const refused = await cli('apply', '--plan', a);
    if (process.env.ENTROPY_SHOW_OUTPUT) process.stdout.write(`${refused.stdout}\n`);
    expect(refused.status, refused.stdout + refused.stderr).toBe(5);
    expect(refused.stdout).toContain('vm j1-vm1: saved running on n1, now sleeping on n1');
    expect((await vmOf('j1-vm1'))?.state).toBe('sleeping');
  });

  it('a saved plan runs when nothing it relies on changed', async () => {
    const b = join(dir, 'b.json');
    const out = await cli('apply', 'j1=running', '--dry-run', '--out', b);
    expect(out.status, out.stderr).toBe(0);
    expect((await vmOf('j1-vm1'))?.state).toBe('sleeping');
    const run = await cli('apply', '--plan', b);
    expect(run.status, run.stdout + run.stderr).toBe(0);
    expect(run.stdout).toMatch(/completed: 4 actions/);
    for (const id of ['j1-vm1', 'j1-vm2']) expect(await vmOf(id)).toMatchObject({ state: 'running', host: 'n1' });
    // The operator's wanted state follows the plan: the loop does not take j1 back to sleep.
    await new Promise((r) => setTimeout(r, 2500));
    expect((await vmOf('j1-vm1'))?.state).toBe('running');
  });

  it('a skip that breaks viability is refused with the verifier reason (exit 3); skipping an independent vjob runs the rest', async () => {
    const c = join(dir, 'c.json');
    const out = await cli('plan-from-cluster', 'j2=sleeping,j3=running,j4=sleeping', '--out', c);
    expect(out.status, out.stderr).toBe(0);
    const { actions } = saved(c).plan;
    const idsOf = (vjob: string) => actions.filter((x) => x.vjob === vjob).map((x) => x.id);
    expect(actions.find((x) => x.vjob === 'j3')).toMatchObject({ type: 'run' });

    // Without j2's suspend, j3's run finds n2 still half taken.
    const broken = await cli('apply', '--plan', c, '--skip', ...idsOf('j2'));
    if (process.env.ENTROPY_SHOW_OUTPUT) process.stdout.write(`${out.stdout}\n${broken.stdout}\n`);
    expect(broken.status, broken.stdout + broken.stderr).toBe(3);
    expect(broken.stdout).toMatch(/apply --plan refused: plan apply-\S+ without .*: node 'n2' is over capacity/);
    expect((await vmOf('j2-vm1'))?.state).toBe('running');

    // One VM of a vjob alone is refused too: the vjob would end with VMs in different states.
    const half = await cli('apply', '--plan', c, '--skip', idsOf('j4').at(-1)!);
    expect(half.status, half.stdout + half.stderr).toBe(3);

    const harmless = await cli('apply', '--plan', c, '--skip', ...idsOf('j4'));
    expect(harmless.status, harmless.stdout + harmless.stderr).toBe(0);
    expect((await vmOf('j2-vm1'))?.state).toBe('sleeping');
    expect(await vmOf('j3-vm1')).toMatchObject({ state: 'running', host: 'n2' });
    expect(await vmOf('j4-vm1')).toMatchObject({ state: 'running', host: 'n3' });
  });

  it('a malformed saved plan is one line with its JSON path', async () => {
    const bad = join(dir, 'bad.json');
    const file = JSON.parse(readFileSync(join(dir, 'c.json'), 'utf8')) as { plan: { actions: { to?: string }[] } };
    file.plan.actions[0]!.to = 'n9';
    writeFileSync(bad, JSON.stringify(file));
    const r = await cli('apply', '--plan', bad);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/\$\.plan\.actions\[0\]\.to: node 'n9' is not in \$\.configuration\.nodes/);
  });
});

describe('review before apply: entropy controller --approve', () => {
  const prefix = `approve${process.pid}`;
  const dir = mkdtempSync(join(tmpdir(), 'entropy-approve-'));
  let cluster: ControllerCluster;
  const cli = (...args: string[]) => entropy(...args, '--nats', cluster.server.url, '--prefix', prefix);
  const vmOf = async (id: string) => (await controllerStatus(cluster.nc, prefix)).vms.find((v) => v.id === id);
  const plans = async () => {
    const r = await cli('plans', '--json');
    expect(r.status, r.stderr).toBe(0);
    return JSON.parse(r.stdout) as {
      approve: boolean;
      proposals: { id: string; actions: { vm: string }[] }[];
      rejected: { id: string }[];
    };
  };
  const submit = async (id: string) => {
    const file = join(dir, `${id}.json`);
    writeFileSync(file, JSON.stringify({ id, vms: [{ id: `${id}-vm1`, cpu: 1, mem: 512 }] }));
    const r = await cli('submit', file);
    expect(r.status, r.stderr).toBe(0);
  };
  const proposalFor = async (vm: string) => {
    let id: string | undefined;
    await waitFor(`a proposal running ${vm}`, async () => {
      id = (await plans()).proposals.find((p) => p.actions.some((a) => a.vm === vm))?.id;
      return id !== undefined;
    });
    return id!;
  };

  beforeAll(async () => {
    cluster = await startControllerCluster({
      prefix,
      instance: parseInstance({ nodes: [reviewNode('n1'), reviewNode('n2')], vms: [], vjobs: [] }),
      speed: 20,
      controllerArgs: ['--approve', '--loop-interval', '300'],
    });
  });

  afterAll(async () => {
    await cluster?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('no action runs before entropy approve; approve executes the proposal', async () => {
    await submit('w1');
    const id = await proposalFor('w1-vm1');
    expect((await plans()).approve).toBe(true);
    const listed = await cli('plans');
    expect(listed.stdout).toMatch(new RegExp(`plan ${id}, proposed .*, reaches w1=running:`));
    expect(listed.stdout).toMatch(/run\s+w1-vm1\s+w1\s+n\d.*\sa1\n/);
    expect(listed.stdout).toContain(`entropy approve ${id}  |  entropy reject ${id}`);
    if (process.env.ENTROPY_SHOW_OUTPUT) process.stdout.write(listed.stdout);
    // Several turns later the plan still waits, the VM too, and the turns say why.
    await new Promise((r) => setTimeout(r, 1500));
    expect((await plans()).proposals.map((p) => p.id)).toEqual([id]);
    expect((await vmOf('w1-vm1'))?.state).toBe('waiting');
    expect(cluster.controller.log()).toContain(`waiting for approval of plan ${id}`);
    expect(
      logLines(cluster.controller.log()).some((l) => l.msg === 'plan-started' || l.outcome === 'plan-started'),
    ).toBe(false);

    const approved = await cli('approve', id);
    expect(approved.status, approved.stdout + approved.stderr).toBe(0);
    expect(approved.stdout).toMatch(new RegExp(`plan ${id} completed`));
    expect((await vmOf('w1-vm1'))?.state).toBe('running');
  });

  it('reject executes nothing and the plan is not proposed again', async () => {
    await submit('w2');
    const id = await proposalFor('w2-vm1');
    const rejected = await cli('reject', id);
    expect(rejected.status, rejected.stdout + rejected.stderr).toBe(0);
    await new Promise((r) => setTimeout(r, 2000));
    const after = await plans();
    expect(after.proposals).toEqual([]);
    expect(after.rejected.map((r) => r.id)).toEqual([id]);
    expect((await vmOf('w2-vm1'))?.state).toBe('waiting');
    const proposed = logLines(cluster.controller.log()).filter(
      (l) => l.msg === 'plan proposed: waiting for entropy approve' && l.planId !== undefined,
    );
    expect(proposed.map((l) => l.planId)).not.toContain(undefined);
    expect(proposed.filter((l) => (l.decision as Record<string, string> | undefined)?.w2 === 'running')).toHaveLength(
      1,
    );
    // An approval of the rejected plan is refused.
    const late = await cli('approve', id);
    expect(late.status).toBe(1);
    expect(late.stdout).toMatch(/was rejected/);
  });
});
