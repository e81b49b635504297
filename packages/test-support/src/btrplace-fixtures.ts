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
