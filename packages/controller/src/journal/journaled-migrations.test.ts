import { describe, expect, it } from 'vitest';
import { journaledMigrations } from './journaled-migrations.ts';
import { type JournalRecord, MemoryJournal } from './plan-journal.ts';

const intent = (planId: string, n: number, type: string, vm: string): JournalRecord => ({
  kind: 'intent',
  planId,
  actionId: `${planId}:a${n}`,
  node: 'n1',
  type,
  vm,
  vjob: 'j1',
  at: 1,
});
const result = (planId: string, n: number, ok: boolean, at: number): JournalRecord => ({
  kind: 'result',
  planId,
  actionId: `${planId}:a${n}`,
  ok,
  at,
});

describe('journaledMigrations', () => {
  it('lists the migrations that succeeded since a time, not other actions, failures or older ones', async () => {
    const journal = new MemoryJournal();
    await journal.append([
      intent('p1', 1, 'migrate', 'old'),
      result('p1', 1, true, 100),
      intent('p2', 1, 'migrate', 'a'),
      intent('p2', 2, 'migrate', 'b'),
      intent('p2', 3, 'suspend', 'c'),
      intent('p2', 4, 'migrate', 'd'),
      result('p2', 1, true, 2_000),
      result('p2', 2, false, 2_100),
      result('p2', 3, true, 2_200),
    ]);
    expect(await journaledMigrations(journal, 1_000)).toEqual([{ vm: 'a', at: 2_000 }]);
    expect(await journaledMigrations(journal, 0)).toEqual([
      { vm: 'old', at: 100 },
      { vm: 'a', at: 2_000 },
    ]);
    // Only the last plans are read.
    expect(await journaledMigrations(journal, 0, 1)).toEqual([{ vm: 'a', at: 2_000 }]);
  });
});
