import { renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { simDriver } from '../src/drivers/sim-driver.ts';
import { parseSimUsage } from '../src/drivers/sim-usage.ts';
import { tempDirPerTest } from './temp-dir.ts';

describe('sim measured use (--sim-usage)', () => {
  const dir = tempDirPerTest('entropy-usage-');
  const file = () => join(dir.path, 'usage.json');
  const write = (text: string) => {
    writeFileSync(`${file()}.new`, text);
    renameSync(`${file()}.new`, file());
  };
  const driver = () =>
    simDriver({
      node: 'n1',
      capacity: { cpu: 4, mem: 4096 },
      usageFile: file(),
      vms: [
        { id: 'v1', vjob: 'j1', state: 'running', demand: { cpu: 1, mem: 512 } },
        { id: 'v2', vjob: 'j2', state: 'sleeping', demand: { cpu: 1, mem: 512 } },
      ],
    });
  const cpu = async (d: ReturnType<typeof driver>) => Object.fromEntries((await d.list()).map((v) => [v.id, v.cpu]));

  it('reports the demand without a file, the file once it exists, and follows its changes', async () => {
    const d = driver();
    expect(await cpu(d)).toEqual({ v1: 1, v2: 0 });
    write(JSON.stringify({ v1: { cpu: 1.7 }, v2: { cpu: 3 } }));
    // A sleeping VM uses nothing, whatever the file says.
    expect(await cpu(d)).toEqual({ v1: 1.7, v2: 0 });
    write(JSON.stringify({ v1: { cpu: 0.3, mem: 200 } }));
    expect(await d.list()).toContainEqual({ id: 'v1', state: 'running', cpu: 0.3, mem: 200 });
  });

  it('keeps the last good use while the file does not parse', async () => {
    const d = driver();
    write(JSON.stringify({ v1: { cpu: 2 } }));
    expect(await cpu(d)).toEqual({ v1: 2, v2: 0 });
    write('{"v1": {"cpu": 0.');
    expect(await cpu(d)).toEqual({ v1: 2, v2: 0 });
  });

  it('names the file and the JSON path of a bad value', () => {
    expect(() => parseSimUsage('{"v1": {"cpu": -1}}', 'u.json')).toThrow(/u\.json: \$\.v1\.cpu/);
  });
});
