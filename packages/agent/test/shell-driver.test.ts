import { chmod, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ACTION_TYPES } from '@entropy/protocol';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DriverConfigError, type DriverError } from '../src/drivers/driver.ts';
import { loadShellConfig, parseShellConfig, shellDriver } from '../src/drivers/shell-driver.ts';
import { request } from './requests.ts';

describe('shell driver', () => {
  let dir: string;
  beforeEach(async () => void (dir = await mkdtemp(join(tmpdir(), 'entropy-shell-'))));
  afterEach(() => rm(dir, { recursive: true, force: true }));

  /** A program that appends its arguments to a log, one line per call, each argument between bars. */
  const logger = async (log: string) => {
    const file = join(dir, 'log-args');
    await writeFile(file, `#!/bin/sh\nfor a in "$@"; do printf '|%s' "$a" >> '${log}'; done; echo '|' >> '${log}'\n`);
    await chmod(file, 0o755);
    return file;
  };
  const config = (program: string) => ({
    imageDir: '/img',
    hosts: { n2: 'h2.example' },
    commands: Object.fromEntries(
      ACTION_TYPES.map((t) => [t, `${program} ${t} {vm} {vjob} {from} {toHost} {mem} {image} {node} {action}`]),
    ),
  });

  it('runs each action through its template without a shell, each placeholder one argument', async () => {
    const log = join(dir, 'log');
    const d = shellDriver({ node: 'n1', config: parseShellConfig(config(await logger(log))) });
    await d.run(request('run', { from: undefined, to: 'n1' }));
    await d.migrate(request('migrate', { to: 'n2' }));
    expect((await readFile(log, 'utf8')).trim().split('\n')).toEqual([
      '|run|v1|j1||n1|512|/img/v1.save|n1|a-run|',
      '|migrate|v1|j1|n1|h2.example|512|/img/v1.save|n1|a-migrate|',
    ]);
    expect(await d.list()).toEqual([]);
  });

  it('passes a value holding shell code as one argument that nothing executes', async () => {
    const log = join(dir, 'log');
    const pwned = join(dir, 'pwned');
    const d = shellDriver({ node: 'n1', config: parseShellConfig(config(await logger(log))) });
    await d.pause(request('pause', { vjob: `x'; touch ${pwned}; echo '` }));
    expect(await readFile(log, 'utf8')).toBe(`|pause|v1|x'; touch ${pwned}; echo '|n1||512|/img/v1.save|n1|a-pause|\n`);
    await expect(stat(pwned)).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it.each([
    ["echo '{vjob}'", 'placeholder inside quotes'],
    ['echo "x {vm}"', 'placeholder inside quotes'],
    ["sh -c 'echo {vjob}'", 'placeholder inside quotes'],
    [['sh', '-c', 'echo {vjob}'], 'placeholder in a word with blanks'],
    ['echo {vm} > /tmp/x', "unquoted '>'"],
  ])('refuses the template %j (%s), naming the field', (pause, reason) => {
    const cfg: Record<string, unknown> = { commands: { ...config('/bin/true').commands, pause } };
    expect(() => parseShellConfig(cfg, 'cfg.json')).toThrow(
      expect.objectContaining({ field: 'cfg.json: $.commands.pause', message: expect.stringContaining(reason) }),
    );
  });

  it('accepts a shell that takes the values as its own arguments', async () => {
    const log = join(dir, 'log');
    const cfg: Record<string, unknown> = {
      commands: { ...config('/bin/true').commands, pause: ['sh', '-c', `echo "paused $1" >> '${log}'`, 'sh', '{vm}'] },
    };
    await shellDriver({ node: 'n1', config: parseShellConfig(cfg) }).pause(request('pause'));
    expect(await readFile(log, 'utf8')).toBe('paused v1\n');
  });

  it('tracks the VMs its own actions left when there is no list command', async () => {
    const d = shellDriver({ node: 'n1', config: parseShellConfig(config('/bin/true')) });
    await d.run(request('run', { from: undefined, to: 'n1' }));
    await d.pause(request('pause'));
    expect(await d.list()).toEqual([{ id: 'v1', state: 'paused' }]);
  });

  it('reports the state its actions left as the state after a migration', async () => {
    const d = shellDriver({ node: 'n1', config: parseShellConfig(config('/bin/true')) });
    await d.run(request('run', { from: undefined, to: 'n1' }));
    await d.pause(request('pause'));
    expect(await d.migrate(request('migrate', { to: 'n2' }))).toEqual({ state: 'paused' });
    await d.run(request('run', { vm: 'v2', from: undefined, to: 'n1' }));
    expect(await d.migrate(request('migrate', { vm: 'v2', to: 'n2' }))).toEqual({ state: 'running' });
  });

  it('reports a failing command with its status and stderr', async () => {
    const cfg = config('/bin/true');
    cfg.commands.pause = `sh -c 'echo cannot pause "$1" >&2; exit 3' sh {vm}`;
    const err = await shellDriver({ node: 'n1', config: parseShellConfig(cfg) })
      .pause(request('pause'))
      .catch((e: DriverError) => e);
    expect((err as DriverError).code).toBe('ENTROPY_DRIVER_FAILED');
    expect((err as DriverError).message).toMatch(/exited with status 3: cannot pause v1/);
  });

  it.each([
    [{ commands: {} }, '$.commands.run'],
    [{ commands: { ...config('x').commands, pause: 'xl pause {domain}' } }, '$.commands.pause'],
    [{ ...config('x'), extra: 1 }, '$'],
  ])('rejects a bad config and names the field (%#)', (value, field) => {
    const err = (() => {
      try {
        parseShellConfig(value, 'cfg.json');
      } catch (e) {
        return e as DriverConfigError;
      }
    })();
    expect(err).toBeInstanceOf(DriverConfigError);
    expect(err?.field).toBe(`cfg.json: ${field}`);
  });

  it('names a config file that is not JSON', async () => {
    await writeFile(join(dir, 'c.json'), '{ nope');
    await expect(loadShellConfig(join(dir, 'c.json'))).rejects.toThrow(/c\.json: not JSON/);
  });
});

describe('the shipped shell config example', () => {
  it('is valid', async () => {
    const cfg = await loadShellConfig(new URL('../examples/shell-config.json', import.meta.url).pathname);
    expect(Object.keys(cfg.commands).sort()).toEqual([...ACTION_TYPES].sort());
  });
});
