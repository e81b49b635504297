import type { InstanceJson } from '@entropy/engine';

/** A node of the review scenario: 4 cpu, 4 GiB. */
export const reviewNode = (id: string) => ({ id, cpu: 4, mem: 4096 });

const vm = (id: string, vjob: string, cpu: number, state: 'running' | 'waiting', host?: string) => ({
  id,
  vjob,
  cpu,
  mem: cpu * 1024,
  state,
  ...(host ? { host } : {}),
});

/**
 * The cluster of the review-before-apply tests (unit and integration): n1 is full with j1; n2 holds
 * j2 (half of it); n3 holds j4 and j5 (half of it). j3 waits and needs a whole node: with j2 asleep,
 * only n2 can take it (n3 keeps j5 whatever j4 does). The decision keeps everything as it is.
 */
export const reviewInstanceJson = {
  nodes: [reviewNode('n1'), reviewNode('n2'), reviewNode('n3')],
  vms: [
    vm('j1-vm1', 'j1', 2, 'running', 'n1'),
    vm('j1-vm2', 'j1', 2, 'running', 'n1'),
    vm('j2-vm1', 'j2', 2, 'running', 'n2'),
    vm('j3-vm1', 'j3', 4, 'waiting'),
    vm('j4-vm1', 'j4', 1, 'running', 'n3'),
    vm('j5-vm1', 'j5', 1, 'running', 'n3'),
  ],
  vjobs: ['j1', 'j2', 'j3', 'j4', 'j5'].map((id) => ({ id, priority: 0, submittedAt: 0 })),
  decision: { j1: 'running', j2: 'running', j3: 'waiting', j4: 'running', j5: 'running' },
} satisfies InstanceJson;
