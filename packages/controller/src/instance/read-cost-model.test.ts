import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { costModelWith, DEFAULT_COST_MODEL } from '../model/cost-model.ts';
import { readCostModelFile } from './read-cost-model.ts';

describe('a cost model file (entropy controller --cost-model)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'entropy-cost-model-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const file = (json: unknown) => {
    writeFileSync(join(dir, 'cm.json'), JSON.stringify(json));
    return join(dir, 'cm.json');
  };

  it('overrides the defaults it names', () => {
    const model = readCostModelFile(file({ suspend: { perMiB: 20 }, stop: { base: 2000 } }));
    expect(model.suspend).toEqual({ base: 0, perMiB: 20 });
    expect(model.stop).toEqual({ base: 2000, perMiB: 0 });
    expect(model.migrate).toEqual(DEFAULT_COST_MODEL.migrate);
  });

  it('names a bad field with its JSON path', () => {
    expect(() => readCostModelFile(file({ boot: { base: 1 } }))).toThrow(/\$\.boot: unknown field 'boot'/);
    expect(() => readCostModelFile(file({ run: { base: -1 } }))).toThrow(/\$\.run\.base/);
  });

  it("gives an apply's overrides over the controller's model", () => {
    const controller = costModelWith({ suspend: { perMiB: 20 } });
    expect(costModelWith({ migrate: { perMiB: 32 } }, controller)).toMatchObject({ suspend: { perMiB: 20 }, migrate: { perMiB: 32 } });
  });
});
