/** A small BtrPlace instance: 3 nodes (one offline), 4 VMs (one ready, one sleeping). */
export function tinyInstance(constraints: unknown[] = [], extra: Record<string, unknown> = {}) {
  return {
    model: {
      mapping: {
        onlineNodes: { '0': { runningVMs: [0, 1], sleepingVMs: [3] }, '1': { runningVMs: [], sleepingVMs: [] } },
        offlineNodes: [2],
        readyVMs: [2],
      },
      attributes: {
        vms: { '0': { boot: 4, migrate: 3, template: 'x' }, '2': { boot: 7 } },
        nodes: { '2': { boot: 20 } },
      },
      views: [
        { id: 'shareableResource', rcId: 'cpu', defCapacity: 8, defConsumption: 1, nodes: { '1': 4 }, vms: { '0': 5 } },
        { id: 'shareableResource', rcId: 'mem', defCapacity: 1024, defConsumption: 100, nodes: {}, vms: {} },
        { id: 'ns', type: 'vm', map: { web: 0 } },
      ],
    },
    constraints,
    objective: { id: 'minimizeMTTR' },
    ...extra,
  };
}

/**
 * A load increase like li-r3-c0's: node 0 is full (VMs 0, 1, 2: 100 + 60 + 40 of 200 uCpu) and
 * preserve raises VM 0 to 120 and VM 1 to 70, so VM 2 must leave (a 5-unit migration) before the
 * raises fit; node 2 has room for VM 4's raise at once.
 */
export function loadIncreaseInstance() {
  return {
    model: {
      mapping: {
        onlineNodes: {
          '0': { runningVMs: [0, 1, 2], sleepingVMs: [] },
          '1': { runningVMs: [3], sleepingVMs: [] },
          '2': { runningVMs: [4], sleepingVMs: [] },
        },
        offlineNodes: [],
        readyVMs: [],
      },
      attributes: { vms: { '2': { migrate: 5 } }, nodes: {} },
      views: [
        {
          id: 'shareableResource',
          rcId: 'uCpu',
          defCapacity: 200,
          defConsumption: 0,
          nodes: {},
          vms: { '0': 100, '1': 60, '2': 40, '3': 150, '4': 150 },
        },
      ],
    },
    constraints: [
      { id: 'preserve', vm: 0, rc: 'uCpu', amount: 120 },
      { id: 'preserve', vm: 1, rc: 'uCpu', amount: 70 },
      { id: 'preserve', vm: 4, rc: 'uCpu', amount: 160 },
    ],
    objective: { id: 'minimizeMTTR' },
  };
}

/** A link's physical element: node `id`. */
export const linkedNode = (id: number) => ({ id, type: 'node' });
export const hosting = (...runningVMs: number[]) => ({ runningVMs, sleepingVMs: [] as number[] });

/**
 * Four nodes on one switch of unlimited capacity (BtrPlace writes -1), each behind a 1000 link
 * (node 3's is 500); VMs 0, 1, 2 run on node 0 with 1000 of memory in use, and a ban sends them away.
 */
export function networkInstance(links = [1000, 1000, 1000, 500], extraViews: unknown[] = []) {
  return {
    model: {
      mapping: {
        onlineNodes: {
          '0': hosting(0, 1, 2),
          '1': hosting(),
          '2': hosting(),
          '3': hosting(),
        },
        offlineNodes: [],
        readyVMs: [],
      },
      attributes: { vms: { '0': { memUsed: 1000 }, '1': { memUsed: 1000 }, '2': { memUsed: 1000 } }, nodes: {} },
      views: [
        { id: 'shareableResource', rcId: 'cpu', defCapacity: 10, defConsumption: 1, nodes: {}, vms: {} },
        {
          id: 'net',
          switches: [{ id: 0, capacity: -1 }],
          links: links.map((capacity, i) => ({ id: 10 + i, capacity, switch: 0, physicalElement: linkedNode(i) })),
          routing: { type: 'default' },
        },
        ...extraViews,
      ],
    },
    constraints: [
      { id: 'ban', vm: 0, nodes: [0] },
      { id: 'ban', vm: 1, nodes: [0] },
      { id: 'ban', vm: 2, nodes: [0] },
    ],
    objective: { id: 'minimizeMTTR' },
  };
}
