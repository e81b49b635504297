import type { PlanProgress, StatusReply } from '@entropy/protocol';
import { describe, expect, it } from 'vitest';
import { formatSnapshot } from './status-watch.ts';

const status: StatusReply = {
  controller: 'c1',
  ts: 10_000,
  nodes: [
    {
      id: 'n1',
      liveness: 'online',
      driver: 'sim',
      capacity: { cpu: 2, mem: 4096 },
      lastSeen: 9_500,
      vms: 1,
      inFlight: 1,
    },
  ],
  vms: [{ id: 'v1', vjob: 'j1', state: 'running', host: 'n1', demand: { cpu: 1, mem: 512 } }],
  excluded: [],
  running: 'p1',
};
const progress = (ts: number, done: number, step?: number): PlanProgress => ({
  planId: 'p1',
  kind: 'action-done',
  ts,
  counts: { total: 3, done, failed: 0, running: 1 },
  ...(step !== undefined ? { step } : {}),
});

describe('a snapshot of entropy status --watch', () => {
  it('shows the nodes, the vjobs and the running plan with its progress', () => {
    const text = formatSnapshot({
      at: Date.UTC(2026, 0, 1),
      interval: 2000,
      status,
      queue: { ok: true, controller: 'c1', ts: 10_000, policy: 'fifo-ffd', store: 'memory', vjobs: [] },
      plan: { id: 'p1', first: progress(1000, 0), last: progress(3500, 2, 1) },
    });
    expect(text.split('\n')).toEqual([
      'entropy status --watch, every 2.0 s: 2026-01-01T00:00:00.000Z',
      '',
      'controller c1: 1/1 nodes online, 1 VMs, running plan p1',
      '',
      'node  state   driver  cpu used/cap  mem used/cap  vms  in flight  last seen',
      'n1    online  sim     1/2           512/4096      1    1          0.5s ago',
      '',
      'controller c1, policy fifo-ffd, queue in memory: 0 vjobs (0 waiting, 0 running, 0 sleeping, 0 terminated)',
      '',
      'plan p1: 2/3 actions done, 1 running, 0 failed, step 1 for 2.5 s',
    ]);
  });

  it('shows a controller that does not answer as one line, and a plan without progress yet', () => {
    const text = formatSnapshot({
      at: 0,
      interval: 500,
      status: new Error('no controller is listening'),
      queue: { ok: false, error: { code: 'ENTROPY_BUSY', message: 'standing by' } },
    });
    expect(text).toContain('\nstatus: no controller is listening\n');
    expect(text).toContain('\nqueue refused (ENTROPY_BUSY): standing by\n');
    expect(text.endsWith('\nno plan running')).toBe(true);
    expect(formatSnapshot({ at: 0, interval: 500, status, queue: new Error('x'), plan: { id: 'p1' } })).toMatch(
      /\nplan p1: running \(no progress seen yet\)$/,
    );
  });
});
