import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeControl, encodeControl } from '@entropy/protocol';
import { afterAll, describe, expect, it } from 'vitest';
import { costModelWith } from '@entropy/engine';
import { readApplySource, withCostModel } from './apply-source.ts';

const dir = mkdtempSync(join(tmpdir(), 'entropy-apply-source-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('entropy apply --cost-model', () => {
  it("sends every line of the file's model, the target instance's own overrides over it, in a request the protocol accepts", () => {
    const target = join(dir, 'instance.json');
    writeFileSync(
      target,
      JSON.stringify({
        nodes: [{ id: 'n1', cpu: 2, mem: 4096 }],
        vms: [{ id: 'v1', vjob: 'j1', cpu: 1, mem: 512, state: 'waiting' }],
        vjobs: [{ id: 'j1' }],
        decision: { j1: 'running' },
        costModel: { migrate: { perMiB: 5 } },
      }),
    );
    const file = costModelWith({
      migrate: { base: 100, perMiB: 2 },
      run: { base: 3000 },
      nodes: { n1: { run: { base: 4000 } } },
    });
    const source = withCostModel(readApplySource(target), file);
    expect(source.costModel).toMatchObject({
      migrate: { base: 100, perMiB: 5 },
      run: { base: 3000, perMiB: 0 },
      stop: { base: 1000, perMiB: 0 },
      nodes: { n1: { run: { base: 4000, perMiB: 0 } } },
    });
    const request = { planId: 'p1', ...source };
    const r = decodeControl('applyRequest', encodeControl('applyRequest', request));
    expect(r.ok && r.msg.costModel).toEqual(source.costModel);
    expect(withCostModel(readApplySource('j1=running'), file).costModel).toMatchObject({
      migrate: { base: 100, perMiB: 2 },
    });
  });
});
