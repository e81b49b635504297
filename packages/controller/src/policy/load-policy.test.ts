import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decideSafely, PolicyError, PolicyErrorCode } from '@entropy/engine';
import { cluster, node } from '@entropy/test-support/policy-cluster.ts';
import { describe, expect, it } from 'vitest';
import { loadPolicy } from './load-policy.ts';

const view = cluster([node('n1', 4, 8192)], {
  r: { state: 'running', vms: 1, hosts: ['n1'] },
  w: { state: 'waiting', vms: 1 },
  t: { state: 'terminated', vms: 1 },
});
const lastGood = { r: 'running' } as const;

describe('loadPolicy', () => {
  const dir = mkdtempSync(join(tmpdir(), 'entropy-policy-'));
  const write = (name: string, text: string) => {
    writeFileSync(join(dir, name), text);
    return `./${name}`;
  };

  it('loads the built-in policies by name', async () => {
    for (const name of ['fcfs', 'fifo-ffd', 'consolidate']) expect((await loadPolicy(name)).name).toBe(name);
  });

  it('loads a user policy exported as default from a module path', async () => {
    const path = write(
      'run-all.mjs',
      `export default { name: 'run-all', decide: (view) => Object.fromEntries(view.queue.map((j) => [j.id, 'running'])) };`,
    );
    const policy = await loadPolicy(path, {}, dir);
    expect(policy.name).toBe('run-all');
    expect(decideSafely(policy, view)).toEqual({ decision: { r: 'running', w: 'running' } });
  });

  it('loads a user policy factory and passes it the options', async () => {
    const path = write(
      'factory.mjs',
      `export default (options) => ({ name: 'f-' + options.tag, decide: () => ({}) });`,
    );
    expect((await loadPolicy(path, { tag: 'x' }, dir)).name).toBe('f-x');
  });

  it('reports a broken user policy at decision time without breaking the caller', async () => {
    const path = write(
      'broken.mjs',
      `export default { name: 'broken', decide: (view) => { if (view.now >= 0) throw new TypeError('oops'); return {}; } };`,
    );
    const out = decideSafely(await loadPolicy(path, {}, dir), view, lastGood);
    expect(out).toMatchObject({ decision: lastGood, error: { code: PolicyErrorCode.PolicyFailed } });
  });

  it.each([
    ['nope', "unknown policy 'nope': built-in policies are fcfs, fifo-ffd, consolidate"],
    ['./missing.mjs', 'does not exist'],
  ])('rejects %s with a clear error', async (name, message) => {
    await expect(loadPolicy(name, {}, dir)).rejects.toThrow(message);
    await expect(loadPolicy(name, {}, dir)).rejects.toBeInstanceOf(PolicyError);
  });

  it('rejects a module that exports no policy, and one that does not parse', async () => {
    const empty = write('empty.mjs', `export const x = 1;`);
    await expect(loadPolicy(empty, {}, dir)).rejects.toThrow('does not export a policy');
    const bad = write('bad.mjs', `export default {{;`);
    await expect(loadPolicy(bad, {}, dir)).rejects.toMatchObject({ code: PolicyErrorCode.PolicyLoad });
  });
});
