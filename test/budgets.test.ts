import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseInstance } from '@entropy/engine';
import { type ControllerCluster, startControllerCluster } from './helpers/controller-cluster.ts';
import { controllerStatus } from './helpers/controller-status.ts';
import { entropy, logLines } from './helpers/entropy-process.ts';
import { waitFor } from './helpers/wait-for.ts';

/**
 * Measured CPU use that flutters around a node's capacity: in phase X n1's VMs are busy, in
 * phase Y n2's are, and a (512 MiB, the cheapest to move) is busy in both. Without budgets the
 * overload repair moves a to the other node in every phase; with the hold time, a stays where the
 * first repair put it and the second repair moves d instead, after which neither phase overloads
 * a node.
 */
const PHASES: readonly Record<string, number>[] = [
  { a: 1.5, b: 1.5, c: 1.5, d: 0.5, e: 0.5, f: 0.5 },
  { a: 1.5, b: 0.5, c: 0.5, d: 1, e: 1, f: 1 },
];
/** The same flutter, smaller: each phase overloads a node by 2.5% of its CPU, under the default minimum gain (5%). */
const SMALL_PHASES: readonly Record<string, number>[] = [
  { a: 1.4, b: 1.35, c: 1.35, d: 0.5, e: 0.5, f: 0.5 },
  { a: 1.4, b: 0.5, c: 0.5, d: 0.9, e: 0.9, f: 0.9 },
];
const PHASE_COUNT = 6;

const twoNodes = {
  nodes: [
    { id: 'n1', cpu: 4, mem: 16_384 },
    { id: 'n2', cpu: 4, mem: 16_384 },
  ],
  vms: [
    { id: 'a', vjob: 'ja', cpu: 0.5, mem: 512, state: 'running', host: 'n1' },
    { id: 'b', vjob: 'jb', cpu: 0.5, mem: 2048, state: 'running', host: 'n1' },
    { id: 'c', vjob: 'jc', cpu: 0.5, mem: 2048, state: 'running', host: 'n1' },
    { id: 'd', vjob: 'jd', cpu: 0.5, mem: 768, state: 'running', host: 'n2' },
    { id: 'e', vjob: 'je', cpu: 0.5, mem: 2048, state: 'running', host: 'n2' },
    { id: 'f', vjob: 'jf', cpu: 0.5, mem: 2048, state: 'running', host: 'n2' },
  ],
  vjobs: ['ja', 'jb', 'jc', 'jd', 'je', 'jf'].map((id) => ({ id })),
  // Registered by an apply: the operator's vjobs, wanted running where they are.
  decision: Object.fromEntries(['ja', 'jb', 'jc', 'jd', 'je', 'jf'].map((id) => [id, 'running'])),
};

/** n1 holds four VMs that together overload it by half its CPU: two must leave, to n2 or n3. */
const threeNodes = {
  nodes: ['n1', 'n2', 'n3'].map((id) => ({ id, cpu: 4, mem: 16_384 })),
  vms: [
    ...(['a', 'b', 'c', 'g'] as const).map((id, i) => ({
      id,
      vjob: `j${id}`,
      cpu: 0.5,
      mem: 512 * (i + 1),
      state: 'running',
      host: 'n1',
    })),
    { id: 'd', vjob: 'jd', cpu: 0.5, mem: 768, state: 'running', host: 'n2' },
    { id: 'e', vjob: 'je', cpu: 0.5, mem: 768, state: 'running', host: 'n3' },
  ],
  vjobs: ['ja', 'jb', 'jc', 'jg', 'jd', 'je'].map((id) => ({ id })),
  decision: Object.fromEntries(['ja', 'jb', 'jc', 'jg', 'jd', 'je'].map((id) => [id, 'running'])),
};
const OVERLOAD_BY_HALF: readonly Record<string, number>[] = [{ a: 1.5, b: 1.5, c: 1.5, g: 1.5, d: 0.3, e: 0.3 }];

/** The VMs each plan of the controller migrated, in order. */
const migrations = (c: ControllerCluster): string[][] =>
  logLines(c.controller.log())
    .filter((l) => l.msg === 'control loop turn' && l.outcome === 'plan-started')
    .map((l) => (l.migrated as string[] | undefined) ?? []);

/**
 * Runs the phases on a fresh cluster with the given controller flags; per phase, the VMs migrated
 * once the controller has seen the phase's use and settled (two turns without a plan).
 */
async function migrationsPerPhase(
  prefix: string,
  flags: readonly string[],
  phases = PHASES,
  cluster: { json: object; phaseCount: number } = { json: twoNodes, phaseCount: PHASE_COUNT },
): Promise<{ perPhase: string[][]; plans: string[][]; budgetHolds: string[] }> {
  const dir = mkdtempSync(join(tmpdir(), 'entropy-budgets-'));
  const usageFile = join(dir, 'usage.json');
  const writeUsage = (use: Record<string, number>) => {
    writeFileSync(
      `${usageFile}.new`,
      JSON.stringify(Object.fromEntries(Object.entries(use).map(([vm, cpu]) => [vm, { cpu }]))),
    );
    renameSync(`${usageFile}.new`, usageFile);
  };
  writeUsage({});
  const c = await startControllerCluster({
    prefix,
    instance: parseInstance(cluster.json),
    speed: 5,
    controllerArgs: ['--queue-store', 'kv', '--log-level', 'debug', '--loop-interval', '300', ...flags],
    agentArgs: ['--sim-usage', usageFile],
  });
  try {
    const file = join(dir, 'instance.json');
    writeFileSync(file, JSON.stringify(cluster.json));
    const applied = await entropy('apply', file, '--nats', c.server.url, '--prefix', prefix);
    expect(applied.status, applied.stderr).toBe(0);
    const statusSince = async (t: number) => {
      const s = await controllerStatus(c.nc, prefix);
      return s.nodes.every((n) => n.lastSeen > t) ? Math.max(...s.nodes.map((n) => n.lastSeen)) : undefined;
    };
    /** Writes the use, then waits for two statuses of every agent: the second was built after the file changed. */
    const reported = async (use: Record<string, number>) => {
      const written = Date.now();
      writeUsage(use);
      const first = await waitFor('every agent to report', () => statusSince(written));
      return waitFor('every agent to report again', () => statusSince(first));
    };
    const perPhase: string[][] = [];
    let use: Record<string, number> = {};
    for (let k = 0; k < cluster.phaseCount; k++) {
      const before = migrations(c).length;
      const next = phases[k % phases.length]!;
      // What goes down first, then what goes up: the agents report one after the other, and a turn
      // between two reports must not see a mix of the phases that overloads a node neither does.
      await reported(Object.fromEntries(Object.entries(next).map(([vm, cpu]) => [vm, Math.min(cpu, use[vm] ?? 0.5)])));
      const seen = await reported(next);
      use = next;
      await waitFor(`the controller to settle in phase ${k}`, async () => {
        const quiet = logLines(c.controller.log()).filter(
          (l) => l.msg === 'control loop turn' && l.outcome === 'no-change' && (l.time as number) > seen,
        );
        return quiet.length >= 2 && (await controllerStatus(c.nc, prefix)).running === undefined;
      });
      perPhase.push(migrations(c).slice(before).flat());
    }
    const budgetHolds = logLines(c.controller.log())
      .filter((l) => l.msg === 'control loop turn' && l.level === 30)
      .flatMap((l) => (l.held as { vjob: string; kind?: string; reason: string }[] | undefined) ?? [])
      .filter((h) => h.kind === 'budget')
      .map((h) => `${h.vjob}: ${h.reason}`);
    return { perPhase, plans: migrations(c).filter((m) => m.length > 0), budgetHolds };
  } catch (err) {
    // What the controller last did says more than a timeout.
    throw new Error(
      `${(err as Error).message}\ncontroller log:\n${c.controller.log().split('\n').slice(-15).join('\n')}`,
      {
        cause: err,
      },
    );
  } finally {
    await c.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('anti-thrash budgets on a real cluster (nats-server, a controller process, sim agents reporting fluctuating use)', () => {
  it('without budgets the overload repair moves the same VM back and forth in every phase; the hold time stops it', async () => {
    const off = (await migrationsPerPhase('budgets-off', ['--no-budgets'])).perPhase;
    const on = (await migrationsPerPhase('budgets-on', [])).perPhase;
    console.log(`migrations per phase, budgets off: ${JSON.stringify(off)}; on (defaults): ${JSON.stringify(on)}`);

    // Off: every change of use overloads a node again, and the cheapest VM, a, moves each time.
    expect(off).toEqual(Array.from({ length: PHASE_COUNT }, () => ['a']));

    // On: a moves once, then is held; the second overload moves d instead, and the cluster stays put.
    const moved = on.flat();
    expect(moved.filter((vm) => vm === 'a')).toEqual(['a']);
    expect(new Set(moved).size).toBe(moved.length);
    expect(moved.length).toBeLessThanOrEqual(2);
    expect(on.slice(2).flat()).toEqual([]);
  });

  it('the minimum gain holds the repairs of overloads within the noise, and the controller logs why', async () => {
    const off = (await migrationsPerPhase('gain-off', ['--no-budgets'], SMALL_PHASES)).perPhase;
    const on = await migrationsPerPhase('gain-on', [], SMALL_PHASES);
    console.log(
      `migrations per phase (2.5% overloads), budgets off: ${JSON.stringify(off)}; on: ${JSON.stringify(on.perPhase)}`,
    );
    expect(off).toEqual(Array.from({ length: PHASE_COUNT }, () => ['a']));
    expect(on.perPhase.flat()).toEqual([]);
    // Logged at info when the hold starts (and not again every turn while it lasts).
    expect(on.budgetHolds.length).toBeGreaterThan(0);
    expect(new Set(on.budgetHolds.map((h) => h.split(':')[0]))).toEqual(new Set(['ja']));
    expect(on.budgetHolds[0]).toMatch(
      /^ja: rebalance held \(minimum gain\): moving a relieves an overload of 2\.5% of a node's capacity, under the minimum of 5%$/,
    );
  });

  it('the per-turn budget spreads a repair over turns: one migration per turn with --max-migrations 1', async () => {
    const once = { json: threeNodes, phaseCount: 1 };
    const off = await migrationsPerPhase('cut-off', ['--no-budgets'], OVERLOAD_BY_HALF, once);
    const on = await migrationsPerPhase('cut-on', ['--max-migrations', '1'], OVERLOAD_BY_HALF, once);
    console.log(
      `migrations per turn (n1 over by half), budgets off: ${JSON.stringify(off.plans)}; --max-migrations 1: ${JSON.stringify(on.plans)}`,
    );
    // Off: one turn moves the two cheapest VMs.
    expect(off.plans).toEqual([['a', 'b']]);
    // On: the same two, one per turn; the second waits for the next turn, as the held entry says.
    expect(on.plans).toEqual([['a'], ['b']]);
    expect(on.budgetHolds[0]).toMatch(
      /^jb: per-turn budget \(1 migrations, 16384 MiB\): 1 of 2 migrations this turn, b waits for a later turn$/,
    );
  });
});
