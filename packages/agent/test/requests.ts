import type { ActionRequest } from '@entropy/protocol';

/** An action request on VM v1 of vjob j1, hosted by n1, with fields overridden as needed. */
export function request(type: ActionRequest['type'], over: Partial<ActionRequest> = {}): ActionRequest {
  return {
    actionId: `a-${type}`,
    planId: 'p1',
    type,
    vm: 'v1',
    vjob: 'j1',
    demand: { cpu: 1, mem: 512 },
    from: 'n1',
    estimatedMs: 10,
    timeoutMs: 30_000,
    ...over,
  };
}
