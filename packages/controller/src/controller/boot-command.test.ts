import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseBootCommand } from '../cli/controller-command.ts';
import { runBootCommand } from './boot-command.ts';

describe('the boot command', () => {
  it('resolves when the command exits 0, with the node in ENTROPY_NODE', async () => {
    await expect(
      runBootCommand(['sh', '-c', 'test "$ENTROPY_NODE" = n3 && test "$0" = n3', 'n3'], {
        node: 'n3',
        timeoutMs: 10_000,
      }),
    ).resolves.toBeUndefined();
  });

  it('fails ENTROPY_BOOT_FAILED with the exit status and the last stderr lines', async () => {
    const err = await runBootCommand(['sh', '-c', 'echo first >&2; echo "no BMC at $0" >&2; exit 3', 'n3-bmc'], {
      node: 'n3',
      timeoutMs: 10_000,
    }).catch((e: unknown) => e);
    expect(err).toMatchObject({ name: 'NodePowerError', code: 'ENTROPY_BOOT_FAILED', node: 'n3' });
    expect((err as Error).message).toMatch(/^boot command sh -c .* exited with status 3: first \| no BMC at n3-bmc$/);
    expect(
      await runBootCommand(['/nonexistent/wake'], { node: 'n3', timeoutMs: 10_000 }).catch((e: Error) => e.message),
    ).toMatch(/ENOENT/);
  });

  it('returns once the command exits, even when what it started keeps its stderr open', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'entropy-boot-'));
    const pidFile = join(dir, 'pid');
    const t0 = Date.now();
    try {
      // The background sleep holds the stderr pipe for 20 s; the boot is its starter's exit.
      await runBootCommand(['sh', '-c', 'sleep 20 & echo $! > "$0"; exit 0', pidFile], {
        node: 'n1',
        timeoutMs: 10_000,
      });
      expect(Date.now() - t0).toBeLessThan(5000);
    } finally {
      const pid = Number(readFileSync(pidFile, 'utf8'));
      if (pid > 0) process.kill(pid, 'SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('kills a command that outlives the timeout', async () => {
    const err = await runBootCommand(['sleep', '30'], { node: 'n1', timeoutMs: 200 }).catch((e: Error) => e);
    expect(err).toMatchObject({ code: 'ENTROPY_BOOT_FAILED', message: expect.stringMatching(/killed after 200 ms/) });
  });

  it('--boot-command is checked at start: a template that needs a shell or lacks {node} is one line naming the option', () => {
    expect(parseBootCommand("sh /opt/boot.sh '{node}'")?.argv).toEqual(['sh', '/opt/boot.sh', '{node}']);
    expect(() => parseBootCommand('wake-all-nodes')).toThrow(
      expect.objectContaining({
        code: 'ENTROPY_INVALID_OPTION',
        message: expect.stringMatching(/^--boot-command: must use \{node\}/),
      }),
    );
    expect(() => parseBootCommand('start {node} &')).toThrow(/^--boot-command: unquoted '&'/);
  });
});
