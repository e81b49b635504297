import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { calibrateCommand } from '../packages/controller/src/cli/calibrate-command.ts';
import { statusWatch, type WatchIo } from '../packages/controller/src/cli/status-watch.ts';
import { parseResultsFile } from '../packages/controller/src/calibration/results-file.ts';
import { parseInstance } from '@entropy/engine';
import { xmlProblem } from '@entropy/test-support/well-formed-xml.ts';
import { type ControllerCluster, startControllerCluster } from './helpers/controller-cluster.ts';
import { controllerStatus } from './helpers/controller-status.ts';
import { entropy } from './helpers/entropy-process.ts';
import { waitFor } from './helpers/wait-for.ts';

const prefix = 'views';

/** A watch's io for tests: collects what it writes, a fixed clock, sleeps that record their length and run `between` instead of waiting. */
function testIo(tty: boolean, between: () => Promise<unknown> = async () => {}) {
  const written: string[] = [];
  const slept: number[] = [];
  const io: WatchIo = {
    write: (text) => void written.push(text),
    tty,
    now: () => Date.UTC(2026, 11, 5, 12, 0, 0),
    sleep: async (ms) => {
      slept.push(ms);
      await between();
    },
    signal: new AbortController().signal,
  };
  return { io, written, slept };
}

describe('what an operator looks at, on a real cluster (nats-server with JetStream, a controller process, sim agents)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'entropy-views-'));
  const costModel = join(dir, 'cost-model.json');
  // Boots take 3 s on this cluster (the default model says 5 s).
  writeFileSync(costModel, JSON.stringify({ run: { base: 3000 } }));
  const vjobFile = join(dir, 'w1.json');
  writeFileSync(
    vjobFile,
    JSON.stringify({
      id: 'w1',
      vms: [
        { id: 'w1-vm1', cpu: 1, mem: 512 },
        { id: 'w1-vm2', cpu: 1, mem: 768 },
      ],
    }),
  );
  let c: ControllerCluster;
  const url = () => c.server.url;

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
      speed: 1,
      controllerArgs: ['--queue-store', 'kv', '--cost-model', costModel],
    });
  });

  afterAll(async () => {
    await c?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('entropy status --watch prints two snapshots of nodes, vjobs and the running plan, a blank line apart; redraws on a terminal', async () => {
    // Between the two snapshots, w1 is submitted and the plan that starts it begins (its runs take 3 s by the controller's model).
    let running: string | undefined;
    const { io, written, slept } = testIo(false, async () => {
      const submitted = await entropy('submit', vjobFile, '--nats', url(), '--prefix', prefix);
      expect(submitted.status, submitted.stderr).toBe(0);
      running = await waitFor('the plan that starts w1', async () => (await controllerStatus(c.nc, prefix)).running);
      // Both runs reached their agents: their action-started messages went out before.
      await waitFor(
        'two actions in flight',
        async () => (await controllerStatus(c.nc, prefix)).nodes.reduce((n, node) => n + node.inFlight, 0) === 2,
      );
    });
    const r = await statusWatch({ nats: url(), prefix, interval: 300, maxIterations: 2 }, io);
    expect(r).toEqual({ output: '', exitCode: 0 });
    expect(slept).toEqual([300]);
    expect(written).toHaveLength(2);
    expect(written[1]!.startsWith('\nentropy status --watch')).toBe(true);
    for (const snap of written) {
      expect(snap).toContain('entropy status --watch, every 0.3 s: 2026-12-05T12:00:00.000Z');
      expect(snap).toMatch(/2\/2 nodes online/);
      expect(snap).toMatch(/^n1\s+online\s+sim\s/m);
      expect(snap).toMatch(/^n2\s+online\s+sim\s/m);
    }
    expect(written[0]).toMatch(/queue in JetStream KV: 0 vjobs/);
    expect(written[0]).toMatch(/\nno plan running\n$/);
    expect(written[1]).toMatch(/queue in JetStream KV: 1 vjobs/);
    expect(written[1]).toMatch(/^w1\s+(waiting|running)\s/m);
    // The watch followed the plan's progress messages from its start.
    expect(written[1]).toMatch(
      new RegExp(`\\nplan ${running}: 0/2 actions done, 2 running, 0 failed, step 0 for \\d\\.\\d s\\n$`),
    );

    const tty = testIo(true);
    await statusWatch({ nats: url(), prefix, maxIterations: 1 }, tty.io);
    expect(tty.written).toHaveLength(1);
    expect(tty.written[0]!.startsWith('\x1b[2J\x1b[H')).toBe(true);
  });

  it('entropy apply --gantt --results writes the chart and the measured actions; calibrate reads them and the journal', async () => {
    await waitFor('w1 running', async () => {
      const st = await controllerStatus(c.nc, prefix);
      return st.running === undefined && st.vms.filter((v) => v.vjob === 'w1' && v.state === 'running').length === 2;
    });
    const gantt = join(dir, 'suspend.svg');
    const results = join(dir, 'suspend.jsonl');
    const applied = await entropy(
      'apply',
      'w1=sleeping',
      '--nats',
      url(),
      '--prefix',
      prefix,
      '--gantt',
      gantt,
      '--results',
      results,
    );
    expect(applied.status, applied.stdout + applied.stderr).toBe(0);
    expect(applied.stdout).toContain(`wrote ${gantt}`);
    expect(applied.stdout).toContain(`wrote ${results}: 4 completed actions`);
    const svg = readFileSync(gantt, 'utf8');
    expect(xmlProblem(svg)).toBeUndefined();
    expect(svg).toContain('>measured</text>');
    expect(svg).toMatch(
      /suspend w1-vm2 \(vjob w1\) on n\d, step 1; planned [\d.]+-[\d.]+ s; measured [\d.]+-[\d.]+ s \(agent [\d.]+ s\)/,
    );
    const lines = readFileSync(results, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines.map((l) => `${l.kind} ${l.vm} ${l.mem}`).sort()).toEqual([
      'pause w1-vm1 512',
      'pause w1-vm2 768',
      'suspend w1-vm1 512',
      'suspend w1-vm2 768',
    ]);
    expect(
      lines.every(
        (l) =>
          typeof l.durationMs === 'number' && typeof l.node === 'string' && (l.end as number) >= (l.start as number),
      ),
    ).toBe(true);
    expect(parseResultsFile(readFileSync(results, 'utf8'), results)).toHaveLength(4);

    // The journal has every plan's actions: the runs (3 s each, by the controller's model) and this suspend.
    const out = join(dir, 'calibrated.json');
    const cal = await calibrateCommand({ journal: true, nats: url(), prefix, results: [results], out });
    expect(cal.output).toMatch(/^run\s+2\s/m);
    const model = JSON.parse(readFileSync(out, 'utf8')) as Record<string, { base: number; perMiB: number }>;
    const run512 = model.run!.base + model.run!.perMiB * 512;
    expect(run512).toBeGreaterThan(2900);
    expect(run512).toBeLessThan(3600);
    // Four suspend samples, two from each source; the journal's and the results file's durations are the agents'.
    expect(cal.output).toMatch(/^suspend\s+4\s/m);
  });
});
