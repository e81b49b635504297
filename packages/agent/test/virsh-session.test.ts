import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { DriverError } from '../src/drivers/driver.ts';
import { parseSessionOutput, type VirshSessions, virshSessions, virshShellLine } from '../src/drivers/virsh-session.ts';

/**
 * A fake interactive virsh: reads single-quoted command lines on stdin and answers as virsh's shell
 * does (a prompt, the echoed input, the output, `error: ...` on stderr). It logs each start and each
 * command with its pid, and knows `suspend`, `domstats`, `sleep MS` and `echo`.
 */
const FAKE = String.raw`#!/usr/bin/env node
const fs = require('node:fs');
const log = (x) => fs.appendFileSync(process.env.FAKE_LOG, JSON.stringify({ pid: process.pid, ...x }) + '\n');
log({ start: process.argv.slice(2) });
const paused = new Set();
let queue = Promise.resolve();
const prompt = () => process.stdout.write('virsh # ');
prompt();
let buf = '';
process.stdin.on('data', (d) => {
  buf += d;
  let i;
  while ((i = buf.indexOf('\n')) >= 0) {
    const line = buf.slice(0, i);
    buf = buf.slice(i + 1);
    queue = queue.then(() => handle(line));
  }
});
async function handle(line) {
  process.stdout.write(line + '\n');
  const args = [...line.matchAll(/'([^']*)'|(\S+)/g)].map((m) => m[1] ?? m[2]);
  const [cmd, ...rest] = args;
  if (cmd !== 'echo') log({ cmd: args });
  if (cmd === 'echo') process.stdout.write(rest.join(' ') + '\n');
  else if (cmd === 'suspend') {
    if (rest[0] === 'missing') process.stderr.write("error: failed to get domain 'missing'\n");
    else { paused.add(rest[0]); process.stdout.write("Domain '" + rest[0] + "' suspended\n\n"); }
  } else if (cmd === 'domstats') for (const d of paused) process.stdout.write("Domain: '" + d + "'\n  state.state=3\n\n");
  else if (cmd === 'sleep') await new Promise((r) => setTimeout(r, Number(rest[0])));
  prompt();
}
`;

describe('virsh sessions', () => {
  let dir = '';
  let sessions: VirshSessions | undefined;
  const started = async () =>
    (await readFile(join(dir, 'log'), 'utf8').catch(() => ''))
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as { pid: number; start?: string[]; cmd?: string[] });

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'entropy-virsh-session-'));
    await writeFile(join(dir, 'virsh'), FAKE);
    await chmod(join(dir, 'virsh'), 0o755);
  });
  afterEach(async () => {
    await sessions?.close();
    sessions = undefined;
    await rm(dir, { recursive: true, force: true });
  });
  const open = (warm: number, max?: number) =>
    (sessions = virshSessions({
      virsh: join(dir, 'virsh'),
      uri: 'qemu:///system',
      warm,
      ...(max ? { max } : {}),
      env: { ...process.env, FAKE_LOG: join(dir, 'log') },
    }));

  it('runs commands through one open session, with the URI given once, and returns their output', async () => {
    const s = open(1);
    await s.run(['suspend', 'v1']);
    await s.run(['suspend', 'v2']);
    expect((await s.run(['domstats', '--state', '--nowait'])).stdout).toBe(
      "Domain: 'v1'\n  state.state=3\n\nDomain: 'v2'\n  state.state=3",
    );
    const log = await started();
    const pids = new Set(log.filter((l) => l.cmd).map((l) => l.pid));
    expect(pids.size).toBe(1);
    expect(log.find((l) => l.start)?.start).toEqual(['-q', '-c', 'qemu:///system']);
  });

  it('runs commands sent together in as many sessions, at once', async () => {
    const s = open(3);
    await Promise.all([s.run(['sleep', '300']), s.run(['sleep', '300']), s.run(['sleep', '300'])]);
    // Run one after the other, they would have reused one session (the idle one taken last in, first out).
    expect(new Set((await started()).filter((l) => l.cmd).map((l) => l.pid)).size).toBe(3);
  });

  it('makes later commands wait for a session when `max` are busy', async () => {
    const s = open(1, 1);
    await Promise.all([s.run(['sleep', '50']), s.run(['suspend', 'v1'])]);
    expect((await started()).filter((l) => l.cmd).map((l) => l.cmd![0])).toEqual(['sleep', 'suspend']);
  });

  it("reports virsh's error line as ENTROPY_DRIVER_FAILED, and replaces the session", async () => {
    const s = open(1);
    const err = (await s.run(['suspend', 'missing']).catch((e: unknown) => e)) as DriverError;
    expect(err.code).toBe('ENTROPY_DRIVER_FAILED');
    expect(err.message).toMatch(
      /virsh -q -c qemu:\/\/\/system suspend missing failed: error: failed to get domain 'missing'/,
    );
    await s.run(['suspend', 'v1']);
    const log = await started();
    expect(log.find((l) => l.cmd?.[1] === 'v1')!.pid).not.toBe(log.find((l) => l.cmd?.[1] === 'missing')!.pid);
  });

  it('kills a session whose command outlives its timeout (ENTROPY_DRIVER_TIMEOUT); the next command gets another', async () => {
    const s = open(1);
    const err = (await s.run(['sleep', '5000'], { timeoutMs: 200 }).catch((e: unknown) => e)) as DriverError;
    expect(err.code).toBe('ENTROPY_DRIVER_TIMEOUT');
    expect((await s.run(['echo', 'hi'])).stdout).toBe('hi');
  });

  it('quotes each argument, and refuses one that virsh could not read back', () => {
    expect(virshShellLine(['save', 'v1', '/images/n 1/v1.save'])).toBe("'save' 'v1' '/images/n 1/v1.save'");
    expect(virshShellLine(['save', "it's"])).toBeUndefined();
    expect(
      parseSessionOutput(
        "\n'suspend' 'v1'\nerror: domain is not running\n\nvirsh # echo ENTROPY-END-3",
        "'suspend' 'v1'",
      ),
    ).toEqual({ stdout: 'error: domain is not running', error: 'error: domain is not running' });
  });
});
