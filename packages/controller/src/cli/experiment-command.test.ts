import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { experimentCommand, scenarioFile } from './experiment-command.ts';

describe('entropy experiment', () => {
  it('prints the figures of each policy as JSON keyed by policy, matching the hand computation of tiny', async () => {
    const r = await experimentCommand('tiny', { json: true });
    expect(r.exitCode).toBe(0);
    const figures = JSON.parse(r.output);
    expect(Object.keys(figures)).toEqual(['fcfs', 'fifo-ffd']);
    expect(figures.fcfs).toMatchObject({
      cumulatedMinutes: 25.5,
      makespanMinutes: 15.33,
      switchMinutes: 0.33,
      actions: { run: 4, suspend: 0 },
    });
    expect(figures['fifo-ffd']).toMatchObject({ cumulatedMinutes: 15.33, makespanMinutes: 10.17 });
  });

  it('compares the policies side by side on the reference and writes an SVG plot', async () => {
    const plot = join(mkdtempSync(join(tmpdir(), 'entropy-exp-')), 'reference.svg');
    const r = await experimentCommand('reference', { plot });
    expect(r.exitCode).toBe(0);
    expect(r.output).toMatch(/^reference: 11 nodes, 8 vjobs, 72 VMs/);
    expect(r.output).toMatch(/cumulated execution time \(min\)\s+[\d.]+\s+[\d.]+ \(-\d/);
    const svg = readFileSync(plot, 'utf8');
    expect(svg).toContain('<svg');
    expect(svg).toContain('fifo-ffd');
  });

  it('reaches at least the published 40% reduction of the cumulated execution time on the reference', async () => {
    const { fcfs, 'fifo-ffd': ffd } = JSON.parse((await experimentCommand('reference', { json: true })).output);
    expect(ffd.cumulatedMinutes).toBeLessThanOrEqual(fcfs.cumulatedMinutes * 0.6);
  });

  it('reports an unknown policy in one line with exit code 1', async () => {
    await expect(experimentCommand('tiny', { policies: ['nope'] })).rejects.toMatchObject({
      code: 'ENTROPY_POLICY_LOAD',
      message: expect.stringContaining("unknown policy 'nope'"),
    });
  });

  it('resolves bundled scenario names and leaves paths alone', () => {
    expect(scenarioFile('reference')).toMatch(/examples\/scenarios\/reference\.json$/);
    expect(scenarioFile('./x.json')).toBe('./x.json');
  });
});
