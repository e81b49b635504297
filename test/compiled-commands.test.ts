import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { DEFAULT_CONTROL_TIMEOUT_MS } from '../packages/controller/src/controller/nats-connect.ts';
import { DEFAULT_WATCH_INTERVAL_MS } from '../packages/controller/src/cli/status-watch.ts';
import { DEFAULT_CONFIG_FILE } from '../packages/controller/src/deploy/nats-config-command.ts';
import { DEFAULT_LISTEN, DEFAULT_STORE_DIR } from '../packages/controller/src/deploy/nats-config.ts';

/** The commands as they ship: compiled JavaScript (scripts/build.mjs, run by the global setup), no TypeScript loader. */

const root = fileURLToPath(new URL('..', import.meta.url));
const ENTROPY = join(root, 'packages/controller/bin/entropy.js');
const dir = mkdtempSync(join(tmpdir(), 'entropy-compiled-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function run(bin: string, args: string[], env: NodeJS.ProcessEnv = process.env) {
  const r = spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', timeout: 120_000, env });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('compiled commands', () => {
  it('each bin runs its dist file, which carries no TypeScript source', () => {
    for (const [bin, dist] of [
      ['packages/controller/bin/entropy.js', 'packages/controller/dist/entropy.js'],
      ['packages/agent/bin/entropy-agent.js', 'packages/agent/dist/entropy-agent.js'],
      ['packages/agent/bin/entropy-watch.js', 'packages/agent/dist/entropy-watch.js'],
    ]) {
      expect(readFileSync(join(root, bin), 'utf8')).toContain(`../dist/${dist.split('/').pop()}`);
      const code = readFileSync(join(root, dist), 'utf8');
      expect(code).not.toMatch(/from ['"][^'"]+\.ts['"]/);
      // tsx only ever as the lazy import for a policy written in TypeScript, never at start
      expect(code).not.toMatch(/^import [^;]*['"]tsx/m);
      const r = run(join(root, bin), ['--help']);
      expect(r.status, r.stderr).toBe(0);
      expect(r.stdout).toMatch(/^Usage: entropy/);
    }
  });

  it("the help states the defaults that the commands apply (declared apart from the commands' code, loaded when one runs)", () => {
    const status = run(ENTROPY, ['status', '--help']);
    expect(status.stdout).toContain(`(default ${DEFAULT_CONTROL_TIMEOUT_MS})`);
    expect(status.stdout).toContain(`(default ${DEFAULT_WATCH_INTERVAL_MS})`);
    const natsConfig = run(ENTROPY, ['deploy', 'nats-config', '--help']).stdout.replace(/\s+/g, ' ');
    for (const value of [DEFAULT_CONFIG_FILE, DEFAULT_LISTEN, DEFAULT_STORE_DIR])
      expect(natsConfig).toContain(`(default ${value})`);
  });

  it('the agent needs no node_modules: its bundle runs from a directory of its own', () => {
    const alone = join(dir, 'agent-alone');
    mkdirSync(alone);
    copyFileSync(join(root, 'packages/agent/dist/entropy-agent.js'), join(alone, 'entropy-agent.js'));
    writeFileSync(join(alone, 'package.json'), '{"type":"module"}');
    const r = run(join(alone, 'entropy-agent.js'), ['--help']);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/--driver/);
  });

  it('a bin without its build says what to run', () => {
    const pkg = join(dir, 'unbuilt');
    mkdirSync(join(pkg, 'bin'), { recursive: true });
    copyFileSync(ENTROPY, join(pkg, 'bin/entropy.js'));
    const r = run(join(pkg, 'bin/entropy.js'), ['--help']);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/unbuilt\/dist\/entropy\.js is not built: run pnpm build/);
  });

  it('a policy written in TypeScript, outside any package, loads in the compiled CLI', () => {
    const policy = join(dir, 'my-fcfs.ts');
    writeFileSync(
      policy,
      [
        `import { fcfs } from ${JSON.stringify(join(root, 'packages/engine/src/policy/fcfs.ts'))};`,
        `import type { Policy } from ${JSON.stringify(join(root, 'packages/engine/src/policy/policy.ts'))};`,
        "const policy: Policy = { ...fcfs({}), name: 'my-fcfs' };",
        'export default policy;',
      ].join('\n'),
    );
    const r = run(ENTROPY, ['experiment', 'tiny', '--json', '--policies', `fcfs,${policy}`]);
    expect(r.status, r.stderr).toBe(0);
    const figures = JSON.parse(r.stdout) as Record<string, Record<string, unknown>>;
    expect(Object.keys(figures).sort()).toEqual(['fcfs', 'my-fcfs']);
    // the same decisions as the built-in it wraps (solveMs is wall time)
    expect({ ...figures['my-fcfs'], solveMs: 0 }).toEqual({ ...figures.fcfs, solveMs: 0 });
  });
});
