import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_STATUS_AFTER_ACTION_MS, DEFAULT_STATUS_INTERVAL_MS } from '../src/agent.ts';
import {
  AgentOptionError,
  parseAgentOptions,
  parseCapacity,
  type RawAgentOptions,
  SIM_FAIL_ENV,
} from '../src/options.ts';

const SHELL_CONFIG = new URL('../examples/shell-config.json', import.meta.url).pathname;

/** The option a bad command line is refused for, and the message. */
async function refusal(
  raw: RawAgentOptions,
  env: NodeJS.ProcessEnv = {},
): Promise<{ option: string; message: string }> {
  const err = await parseAgentOptions(raw, env).then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(err instanceof AgentOptionError)) throw new Error(`expected an AgentOptionError, got ${String(err)}`);
  return { option: err.option, message: err.message };
}

describe('parseAgentOptions', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'entropy-agent-options-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('splits --shutdown-command into an argv, and refuses one that needs a shell, naming the option', async () => {
    const s = await parseAgentOptions(
      { node: 'n1', driver: 'xl', shutdownCommand: "systemctl poweroff --message 'entropy {node}'" },
      {},
    );
    expect(s.shutdownCommand?.argv).toEqual(['systemctl', 'poweroff', '--message', 'entropy {node}']);
    const bad = await refusal({ node: 'n1', driver: 'xl', shutdownCommand: 'stop-libvirtd && poweroff' });
    expect(bad.option).toBe('--shutdown-command');
    expect(bad.message).toMatch(/^--shutdown-command: unquoted '&'.*sh -c/);
    expect((await refusal({ node: 'n1', driver: 'xl', shutdownCommand: 'off {host}' })).message).toMatch(
      /unknown placeholder \{host\}/,
    );
  });

  it('fills the defaults of a minimal sim agent', async () => {
    const s = await parseAgentOptions({ node: 'n1', driver: 'sim' }, {});
    // The servers and credentials are nats-auth's (flags, environment, credentials file, default).
    expect(s.nats).toBeUndefined();
    expect(s).toMatchObject({
      prefix: 'entropy',
      statusIntervalMs: DEFAULT_STATUS_INTERVAL_MS,
      statusAfterActionMs: DEFAULT_STATUS_AFTER_ACTION_MS,
      logLevel: 'info',
      stateDir: '/var/lib/entropy/agent/n1',
      driver: {
        driver: 'sim',
        node: 'n1',
        capacity: { cpu: 4, mem: 8192 },
        speed: 1,
        simFail: [],
        stateDir: '/var/lib/entropy/agent/n1',
      },
    });
  });

  it('gives the driver the state directory of the command line', async () => {
    const s = await parseAgentOptions({ node: 'n1', driver: 'xl', stateDir: '/tmp/st' }, {});
    expect([s.stateDir, s.driver.stateDir]).toEqual(['/tmp/st', '/tmp/st']);
    expect(await refusal({ node: 'n1', driver: 'sim', stateDir: ' ' })).toMatchObject({ option: '--state-dir' });
  });

  it('reads every timing and the sim failures from the options and the environment', async () => {
    const s = await parseAgentOptions(
      {
        node: 'n1',
        driver: 'sim',
        statusInterval: '500',
        statusAfterAction: '0',
        speed: '2.5',
        simFail: 'a1, v2',
        capacity: 'cpu=8,mem=16384,gpu=2',
      },
      { [SIM_FAIL_ENV]: 'a3' },
    );
    expect(s.statusIntervalMs).toBe(500);
    expect(s.statusAfterActionMs).toBe(0);
    expect(s.driver).toMatchObject({
      speed: 2.5,
      simFail: ['a1', 'v2', 'a3'],
      capacity: { cpu: 8, mem: 16384, gpu: 2 },
    });
  });

  it('refuses each bad option by name, with the value it got', async () => {
    expect(await refusal({ driver: 'sim' })).toMatchObject({ option: '--node' });
    expect(await refusal({ node: 'n.1', driver: 'sim' })).toMatchObject({
      option: '--node',
      message: expect.stringContaining('"n.1"'),
    });
    expect(await refusal({ node: 'n1', driver: 'kvm' })).toMatchObject({
      option: '--driver',
      message: expect.stringContaining('xl, virsh, shell, sim'),
    });
    expect(await refusal({ node: 'n1', driver: 'sim', prefix: 'a..b' })).toMatchObject({ option: '--prefix' });
    expect(await refusal({ node: 'n1', driver: 'sim', statusInterval: '0' })).toMatchObject({
      option: '--status-interval',
      message: expect.stringContaining('positive'),
    });
    expect(await refusal({ node: 'n1', driver: 'sim', statusAfterAction: '-1' })).toMatchObject({
      option: '--status-after-action',
      message: expect.stringContaining('non-negative'),
    });
    expect(await refusal({ node: 'n1', driver: 'sim', statusAfterAction: 'soon' })).toMatchObject({
      option: '--status-after-action',
      message: expect.stringContaining('"soon"'),
    });
    expect(await refusal({ node: 'n1', driver: 'sim', speed: '' })).toMatchObject({ option: '--speed' });
    expect(await refusal({ node: 'n1', driver: 'sim', hosts: 'n2' })).toMatchObject({
      option: '--hosts',
      message: expect.stringContaining('name=value'),
    });
    expect(await refusal({ node: 'n1', driver: 'shell' })).toMatchObject({
      option: '--shell-config',
      message: expect.stringContaining('required'),
    });
  });

  it('loads the shell config and the sim VMs, naming the file and the field of a bad one', async () => {
    const shell = await parseAgentOptions({ node: 'n1', driver: 'shell', shellConfig: SHELL_CONFIG }, {});
    expect(shell.driver.shellConfig).toBeDefined();
    const vms = join(dir, 'vms.json');
    await writeFile(vms, JSON.stringify([{ id: 'v1', state: 'running', demand: { cpu: 1, mem: 512 } }]));
    expect((await parseAgentOptions({ node: 'n1', driver: 'sim', simVms: vms }, {})).driver.simVms).toEqual([
      { id: 'v1', state: 'running', demand: { cpu: 1, mem: 512 } },
    ]);
    await writeFile(vms, JSON.stringify([{ id: 'v1', state: 'migrating', demand: { cpu: 1, mem: 512 } }]));
    expect(await refusal({ node: 'n1', driver: 'sim', simVms: vms })).toMatchObject({
      option: '--sim-vms',
      message: expect.stringContaining('$[0].state'),
    });
    expect(await refusal({ node: 'n1', driver: 'sim', simVms: join(dir, 'none.json') })).toMatchObject({
      option: '--sim-vms',
      message: expect.stringContaining('none.json'),
    });
  });
});

describe('parseCapacity', () => {
  it('reads named dimensions and refuses a negative or missing amount', () => {
    expect(parseCapacity('cpu=4, mem=8192')).toEqual({ cpu: 4, mem: 8192 });
    expect(() => parseCapacity('cpu=-1')).toThrow(/--capacity: cpu must be a non-negative number, got "-1"/);
    expect(() => parseCapacity('cpu=')).toThrow(/--capacity: cpu must be a non-negative number/);
    expect(() => parseCapacity('cpu')).toThrow(/--capacity: expected name=value, got "cpu"/);
  });
});
