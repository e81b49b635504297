import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const UNITS = new URL('../deploy/systemd/', import.meta.url).pathname;
const hasAnalyze = spawnSync('systemd-analyze', ['--version']).status === 0;

describe('deploy/systemd units', () => {
  // systemd-analyze (package systemd) checks unit files without systemd running as PID 1
  it.skipIf(!hasAnalyze)('pass systemd-analyze verify (the agent template as instance n1)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'entropy-units-'));
    try {
      copyFileSync(join(UNITS, 'entropy-agent@.service'), join(dir, 'entropy-agent@n1.service'));
      copyFileSync(join(UNITS, 'entropy-controller.service'), join(dir, 'entropy-controller.service'));
      copyFileSync(join(UNITS, 'nats-server-entropy.service'), join(dir, 'nats-server-entropy.service'));
      for (const unit of ['entropy-agent@n1.service', 'entropy-controller.service', 'nats-server-entropy.service']) {
        const r = spawnSync('systemd-analyze', ['verify', '--man=no', join(dir, unit)], { encoding: 'utf8' });
        expect(r.status, `${unit}: ${r.stderr}`).toBe(0);
        expect(r.stderr, unit).toBe('');
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
