import { describe, expect, it } from 'vitest';
import type { Configuration } from './configuration.ts';
import { vmsOfVjobs } from './vjob-vms.ts';

const vm = (id: string, vjob: string) => ({
  id,
  vjob,
  demand: { cpu: 1, mem: 1 },
  state: 'running' as const,
  host: 'n1',
});

describe('vmsOfVjobs', () => {
  it("lists each vjob's VMs in the order the vjob names them, undefined for a VM the configuration lacks", () => {
    const configuration: Configuration = {
      nodes: [],
      vms: [vm('a1', 'a'), vm('b2', 'b'), vm('a2', 'a'), vm('b1', 'b')],
      vjobs: [
        { id: 'a', vms: ['a1', 'a2'], priority: 0, submittedAt: 0 },
        // Listed in another order than the configuration's, and naming a VM it lacks.
        { id: 'b', vms: ['b1', 'b2', 'b9'], priority: 0, submittedAt: 0 },
        { id: 'c', vms: [], priority: 0, submittedAt: 0 },
      ],
    };
    const index = vmsOfVjobs(configuration);
    expect(index.map((vms) => vms.map((v) => v?.id))).toEqual([['a1', 'a2'], ['b1', 'b2', undefined], []]);
    expect(vmsOfVjobs(configuration)).toBe(index);
  });
});
