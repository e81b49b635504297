import { describe, expect, it } from 'vitest';
import type { QueueStore, StoredVJob } from '../../src/queue/queue-store.ts';

/** What every QueueStore promises; run against the in-memory store here and against JetStream KV in test/. */
export function describeQueueStore(name: string, open: () => Promise<QueueStore>): void {
  const vjob = (id: string, submittedAt: number, over: Partial<StoredVJob> = {}): StoredVJob => ({
    id,
    priority: 0,
    submittedAt,
    state: 'waiting',
    vms: [{ id: `${id}-vm1`, demand: { cpu: 1, mem: 512, gpu: 1 } }],
    ...over,
  });

  describe(`${name} queue store`, () => {
    it('keeps the known nodes: each once, in order, across concurrent additions', async () => {
      const store = await open();
      expect(await store.knownNodes()).toEqual([]);
      await Promise.all([store.addKnownNodes(['n2', 'n1']), store.addKnownNodes(['n3', 'n1'])]);
      await store.addKnownNodes(['n2']);
      expect(await store.knownNodes()).toEqual(['n1', 'n2', 'n3']);
      expect((await store.list()).map((v) => v.id)).toEqual([]);
    });

    it("keeps each node's power record: what is wanted, what a plan powered off; an empty record is dropped", async () => {
      const store = await open();
      expect(await store.nodePower()).toEqual({});
      expect(await store.updateNodePower('n3', (r) => ({ ...r, wanted: 'offline' }))).toEqual({ wanted: 'offline' });
      const off = { at: 1234, capacity: { cpu: 4, mem: 4096, gpu: 1 } };
      await store.updateNodePower('n3', (r) => ({ ...r, poweredOff: off }));
      await store.updateNodePower('n4', () => ({ wanted: 'online' }));
      expect(await store.nodePower()).toEqual({ n3: { wanted: 'offline', poweredOff: off }, n4: { wanted: 'online' } });
      // Dropped when the change says so, or leaves nothing to keep.
      expect(await store.updateNodePower('n4', () => undefined)).toBeUndefined();
      expect(await store.updateNodePower('n3', () => ({}))).toBeUndefined();
      expect(await store.nodePower()).toEqual({});
      // Not a vjob, and apart from the known nodes.
      expect(await store.list()).toEqual([]);
      expect(await store.knownNodes()).toEqual([]);
    });

    it('updates power records through compare-and-set: concurrent changes of one node and of several all land', async () => {
      const store = await open();
      await Promise.all([
        ...['n1', 'n2', 'n3', 'n4'].map((n) => store.updateNodePower(n, (r) => ({ ...r, wanted: 'offline' }))),
        store.updateNodePower('n1', (r) => ({ ...r, poweredOff: { at: 1, capacity: { cpu: 1 } } })),
      ]);
      expect(await store.nodePower()).toEqual({
        n1: { wanted: 'offline', poweredOff: { at: 1, capacity: { cpu: 1 } } },
        n2: { wanted: 'offline' },
        n3: { wanted: 'offline' },
        n4: { wanted: 'offline' },
      });
    });

    it('adds a vjob once: a second add with the same id is refused', async () => {
      const store = await open();
      expect(await store.add(vjob('a', 10))).toBe(true);
      expect(await store.add(vjob('a', 20, { priority: 5 }))).toBe(false);
      expect(await store.get('a')).toEqual(vjob('a', 10));
      expect(await store.get('nope')).toBeUndefined();
    });

    it('lists vjobs in submission order, ties by id', async () => {
      const store = await open();
      await store.add(vjob('c', 30));
      await store.add(vjob('b', 10));
      await store.add(vjob('a', 10));
      expect((await store.list()).map((v) => v.id)).toEqual(['a', 'b', 'c']);
    });

    it('updates through compare-and-set: concurrent updates all land, none is lost', async () => {
      const store = await open();
      await store.add(vjob('a', 1));
      await Promise.all(
        Array.from({ length: 8 }, () => store.update('a', (v) => ({ ...v, priority: v.priority + 1 }))),
      );
      expect((await store.get('a'))?.priority).toBe(8);
    });

    it('leaves a vjob unchanged when the change returns undefined, and ignores unknown ids', async () => {
      const store = await open();
      await store.add(vjob('a', 1));
      expect(await store.update('a', () => undefined)).toEqual(vjob('a', 1));
      expect(await store.update('zz', (v) => ({ ...v, state: 'running' }))).toBeUndefined();
      expect(await store.get('zz')).toBeUndefined();
    });

    it('keeps the end of a vjob: state, reason and time', async () => {
      const store = await open();
      await store.add(vjob('a', 1));
      const ended = await store.update('a', (v) => ({
        ...v,
        state: 'terminated',
        end: 'cancelled',
        endedAt: 99,
        cancelRequestedAt: 98,
      }));
      expect(ended).toMatchObject({ state: 'terminated', end: 'cancelled', endedAt: 99 });
      expect(await store.get('a')).toEqual(ended);
    });

    it('removes a vjob for good: gone from get and list, its id free again', async () => {
      const store = await open();
      await store.add(vjob('a', 1));
      await store.add(vjob('b', 2));
      await store.update('a', (v) => ({ ...v, state: 'running' }));
      await store.remove('a');
      await store.remove('never-there');
      expect(await store.get('a')).toBeUndefined();
      expect((await store.list()).map((v) => v.id)).toEqual(['b']);
      expect(await store.update('a', (v) => ({ ...v, priority: 3 }))).toBeUndefined();
      expect(await store.add(vjob('a', 5))).toBe(true);
      expect(await store.get('a')).toEqual(vjob('a', 5));
    });

    it("keeps the latest plan's record apart from the vjobs", async () => {
      const store = await open();
      await store.add(vjob('a', 1));
      expect(await store.lastPlan()).toBeUndefined();
      const running = {
        planId: 'p-1',
        status: 'running',
        controller: 'c',
        mode: 'barrier',
        actions: 4,
        steps: 2,
        estimatedMs: 900,
        startedAt: 10,
      } as const;
      await store.recordPlan(running);
      expect(await store.lastPlan()).toEqual(running);
      const ended = {
        ...running,
        status: 'failed',
        endedAt: 20,
        done: 2,
        failed: 1,
        failure: 'pause v1 on n1: injected',
        leftPaused: [],
        uncertainVms: ['v2'],
      } as const;
      await store.recordPlan(ended);
      expect(await store.lastPlan()).toEqual(ended);
      expect((await store.list()).map((v) => v.id)).toEqual(['a']);
    });
  });
}
