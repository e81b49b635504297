import { describe, expect, it } from 'vitest';
import { formatGroupSkew, groupSkew, pauseGroupSkews } from './group-skew.ts';

describe('group skew', () => {
  it('is the spread of starts and of ends, and the window from the first start to the last end', () => {
    const skew = groupSkew([
      { node: 'n1', startedAt: 1000.5, endedAt: 1030 },
      { node: 'n1', startedAt: 1001, endedAt: 1041.25 },
      { node: 'n2', startedAt: 1003.5, endedAt: 1033 },
    ]);
    expect(skew).toEqual({ count: 3, measured: 3, nodes: 2, startSpreadMs: 3, endSpreadMs: 11.25, windowMs: 40.75 });
  });

  it('leaves out results without timestamps (older agents), and is undefined when none has them', () => {
    expect(groupSkew([{ node: 'n1' }, { node: 'n2', startedAt: 5, endedAt: 7 }])).toMatchObject({
      count: 2,
      measured: 1,
      startSpreadMs: 0,
      windowMs: 2,
    });
    expect(groupSkew([{ node: 'n1' }])).toBeUndefined();
    expect(groupSkew([])).toBeUndefined();
  });

  it("groups a plan's pauses and unpauses per vjob and ignores the other actions", () => {
    const skews = pauseGroupSkews([
      { type: 'pause', vjob: 'j1', node: 'n1', startedAt: 10, endedAt: 12 },
      { type: 'suspend', vjob: 'j1', node: 'n1', startedAt: 12, endedAt: 900 },
      { type: 'pause', vjob: 'j1', node: 'n2', startedAt: 11, endedAt: 14 },
      { type: 'unpause', vjob: 'j2', node: 'n3', startedAt: 20, endedAt: 21 },
    ]);
    expect(skews).toEqual([
      { vjob: 'j1', type: 'pause', count: 2, measured: 2, nodes: 2, startSpreadMs: 1, endSpreadMs: 2, windowMs: 4 },
      { vjob: 'j2', type: 'unpause', count: 1, measured: 1, nodes: 1, startSpreadMs: 0, endSpreadMs: 0, windowMs: 1 },
    ]);
    expect(formatGroupSkew(skews[0]!)).toBe(
      'pause j1: 2 VMs on 2 nodes, starts within 1.0 ms, ends within 2.0 ms (half paused at most 4.0 ms)',
    );
  });
});
