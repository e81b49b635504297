import { spawnSync } from 'node:child_process';
import { connect } from 'node:net';
import { describe, expect, it } from 'vitest';
import { entropy } from './helpers/entropy-process.ts';

describe("entropy demo, the README's main job", () => {
  it('starts nats-server, 11 agent processes and a controller, runs the reference context switch, checks the agents and stops everything', async () => {
    const r = await entropy('demo', '--speed', '4');
    expect(r.status, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(/cluster up on nats:\/\/127\.0\.0\.1:\d+: 11 nodes online, 72 VMs known/);
    expect(r.stdout).toMatch(/42 actions \(9 pause, 6 migrate, 9 resume, 9 suspend, 9 unpause\) in 5 steps/);
    expect(r.stdout).toMatch(
      /plan \S+ completed: 42 actions in 5 steps\nmeasured \d+\.\d+s vs estimated 4\.11s \([+-]\d+%\) step by step; 2\.58s as soon as possible/,
    );
    expect(r.stdout).toMatch(/j1\s+9\s+9 sleeping\s+sleeping/);
    expect(r.stdout).toMatch(/j3\s+9\s+9 running\s+running/);
    expect(r.stdout).toContain('every vjob is in the state the decision asked for, as reported by the agents');
    expect(r.stderr).not.toMatch(/logs kept in/);
    // Every process it started is gone: no agent or controller names its server, and the server is closed.
    const port = /cluster up on nats:\/\/127\.0\.0\.1:(\d+)/.exec(r.stdout)![1]!;
    const survivors = spawnSync('pgrep', ['-f', `127.0.0.1:${port}`], { encoding: 'utf8' }).stdout.trim();
    expect(survivors).toBe('');
    const refused = await new Promise<boolean>((resolve) => {
      const socket = connect(Number(port), '127.0.0.1');
      socket.once('connect', () => (socket.destroy(), resolve(false)));
      socket.once('error', () => resolve(true));
    });
    expect(refused).toBe(true);
  });
});
