import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ACTION_TYPES } from '@entropy/protocol';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DriverConfigError, DriverError } from '../src/drivers/driver.ts';
import { loadShellConfig, parseShellConfig, renderCommand, shellDriver } from '../src/drivers/shell-driver.ts';
import { request } from './requests.ts';

describe('shell driver', () => {
  let dir: string;
  beforeEach(async () => void (dir = await mkdtemp(join(tmpdir(), 'entropy-shell-'))));
  afterEach(() => rm(dir, { recursive: true, force: true }));

  const config = (log: string) => ({
    imageDir: '/img',
    hosts: { n2: 'h2.example' },
    commands: Object.fromEntries(ACTION_TYPES.map((t) => [t, `echo ${t} {vm} {vjob} {from} {toHost} {mem} {image} {node} {action} >> ${log}`])),
  });

  it('runs each action through its template with quoted values', async () => {
    const log = join(dir, 'log');
    const d = shellDriver({ node: 'n1', config: parseShellConfig(config(log)) });
    await d.run(request('run', { from: undefined, to: 'n1' }));
    await d.migrate(request('migrate', { to: 'n2' }));
    expect((await readFile(log, 'utf8')).trim().split('\n')).toEqual([
      'run v1 j1  n1 512 /img/v1.save n1 a-run',
      'migrate v1 j1 n1 h2.example 512 /img/v1.save n1 a-migrate',
    ]);
    expect(await d.list()).toEqual([]);
  });

  it('tracks the VMs its own actions left when there is no list command', async () => {
    const d = shellDriver({ node: 'n1', config: parseShellConfig(config('/dev/null')) });
    await d.run(request('run', { from: undefined, to: 'n1' }));
    await d.pause(request('pause'));
    expect(await d.list()).toEqual([{ id: 'v1', state: 'paused' }]);
  });

  it('reports the state its actions left as the state after a migration', async () => {
    const d = shellDriver({ node: 'n1', config: parseShellConfig(config('/dev/null')) });
    await d.run(request('run', { from: undefined, to: 'n1' }));
    await d.pause(request('pause'));
    expect(await d.migrate(request('migrate', { to: 'n2' }))).toEqual({ state: 'paused' });
    await d.run(request('run', { vm: 'v2', from: undefined, to: 'n1' }));
    expect(await d.migrate(request('migrate', { vm: 'v2', to: 'n2' }))).toEqual({ state: 'running' });
  });

  it('reports a failing command with its status and stderr', async () => {
    const cfg = config('/dev/null');
    cfg.commands.pause = 'echo cannot pause {vm} >&2; exit 3';
    const err = await shellDriver({ node: 'n1', config: parseShellConfig(cfg) }).pause(request('pause')).catch((e: DriverError) => e);
    expect((err as DriverError).code).toBe('ENTROPY_DRIVER_FAILED');
    expect((err as DriverError).message).toMatch(/exited with status 3: cannot pause v1/);
  });

  it('never lets a value escape its quotes', () => {
    expect(renderCommand('echo {vm}', { vm: "a'; rm -rf /; '" } as never)).toBe(`echo 'a'\\''; rm -rf /; '\\'''`);
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
