import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ActionResult } from '@entropy/protocol';
import { describe, expect, it } from 'vitest';
import { ActionLedger } from '../src/state/action-ledger.ts';
import { request } from './requests.ts';
import { tempDirPerTest } from './temp-dir.ts';

const ok = (actionId: string): ActionResult => ({ actionId, node: 'n1', ok: true, durationMs: 1 });
const resultOf = (o: ReturnType<ActionLedger['submit']>) => (o as { result: Promise<ActionResult> }).result;
const lines = (file: string) =>
  readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Record<string, unknown>);

describe('action ledger in memory', () => {
  it('runs an action id once: a retry while running shares the run, a later retry gets the result', async () => {
    const ledger = new ActionLedger({ node: 'n1' });
    let runs = 0;
    let finish!: (r: ActionResult) => void;
    const exec = () => (runs++, new Promise<ActionResult>((r) => (finish = r)));
    const first = ledger.submit(request('pause'), exec);
    const retry = ledger.submit(request('pause'), exec);
    expect([first.kind, retry.kind]).toEqual(['new', 'duplicate']);
    expect(ledger.running()).toEqual([{ actionId: 'a-pause', type: 'pause', vm: 'v1' }]);
    finish(ok('a-pause'));
    expect(await resultOf(retry)).toEqual(ok('a-pause'));
    expect(ledger.submit(request('pause'), exec).kind).toBe('duplicate');
    expect(runs).toBe(1);
    expect(ledger.running()).toEqual([]);
  });

  it('flags an id reused for another action', () => {
    const ledger = new ActionLedger({ node: 'n1' });
    ledger.submit(request('pause'), async () => ok('a-pause'));
    expect(ledger.submit(request('pause', { vm: 'v2' }), async () => ok('x'))).toEqual({
      kind: 'conflict',
      first: { type: 'pause', vm: 'v1' },
    });
  });

  it('forgets the oldest ended entries beyond its size, never a running one', async () => {
    const ledger = new ActionLedger({ node: 'n1', maxEntries: 2 });
    const hanging = ledger.submit(request('pause', { actionId: 'run' }), () => new Promise<ActionResult>(() => {}));
    for (const id of ['a', 'b', 'c', 'd'])
      await resultOf(ledger.submit(request('pause', { actionId: id }), async () => ok(id)));
    expect(hanging.kind).toBe('new');
    expect(['run', 'a', 'b', 'c', 'd'].map((id) => ledger.has(id))).toEqual([true, false, false, true, true]);
  });

  it('answers a query with each id status and result, unknown for the others', async () => {
    const ledger = new ActionLedger({ node: 'n1' });
    await resultOf(ledger.submit(request('pause', { actionId: 'a' }), async () => ok('a')));
    const failed: ActionResult = {
      actionId: 'b',
      node: 'n1',
      ok: false,
      error: { code: 'ENTROPY_DRIVER_FAILED', message: 'x' },
      durationMs: 2,
      final: false,
    };
    await resultOf(ledger.submit(request('pause', { actionId: 'b' }), async () => failed));
    ledger.submit(request('pause', { actionId: 'c' }), () => new Promise<ActionResult>(() => {}));
    expect(ledger.query(['a', 'b', 'c', 'zz'])).toEqual([
      { actionId: 'a', status: 'done', result: ok('a') },
      { actionId: 'b', status: 'failed', result: failed },
      { actionId: 'c', status: 'running' },
      { actionId: 'zz', status: 'unknown' },
    ]);
  });
});

describe('action ledger file', () => {
  const dir = tempDirPerTest('entropy-ledger-');
  const file = () => join(dir.path, 'action-ledger.jsonl');

  it('records the start before running and the end before answering', async () => {
    const { ledger } = ActionLedger.open(file(), { node: 'n1', now: () => 42 });
    let seenAtRun: Record<string, unknown>[] = [];
    const result = await resultOf(
      ledger.submit(request('pause', { token: 3 }), async () => {
        seenAtRun = lines(file());
        return ok('a-pause');
      }),
    );
    expect(seenAtRun).toEqual([
      { k: 'start', id: 'a-pause', type: 'pause', vm: 'v1', vjob: 'j1', planId: 'p1', token: 3, at: 42 },
    ]);
    expect(result).toEqual(ok('a-pause'));
    expect(lines(file())[1]).toEqual({ k: 'end', id: 'a-pause', status: 'done', result: ok('a-pause') });
  });

  it('recovers ended ids after a restart and answers them from the file without running them', async () => {
    const first = ActionLedger.open(file(), { node: 'n1' }).ledger;
    await resultOf(first.submit(request('pause'), async () => ok('a-pause')));
    const { ledger, recovery } = ActionLedger.open(file(), { node: 'n1' });
    expect(recovery).toEqual({ interrupted: [], badLines: 0 });
    let runs = 0;
    const again = ledger.submit(request('pause'), async () => (runs++, ok('again')));
    expect(again.kind).toBe('duplicate');
    expect(await resultOf(again)).toEqual(ok('a-pause'));
    expect(runs).toBe(0);
  });

  it('marks an action started and never ended as interrupted: never run again, answered ENTROPY_INTERRUPTED', async () => {
    const first = ActionLedger.open(file(), { node: 'n1' }).ledger;
    first.submit(request('suspend'), () => new Promise<ActionResult>(() => {}));
    // The process dies here: the end is never written.
    const { ledger, recovery } = ActionLedger.open(file(), { node: 'n1' });
    expect(recovery.interrupted).toEqual(['a-suspend']);
    let runs = 0;
    const retry = ledger.submit(request('suspend'), async () => (runs++, ok('x')));
    expect(retry.kind).toBe('duplicate');
    const r = await resultOf(retry);
    expect(r).toMatchObject({
      actionId: 'a-suspend',
      node: 'n1',
      ok: false,
      final: true,
      error: { code: 'ENTROPY_INTERRUPTED' },
    });
    expect(r.error!.message).toMatch(/restarted during suspend v1.*status/);
    expect(runs).toBe(0);
    expect(ledger.query(['a-suspend'])[0]!.status).toBe('interrupted');
    // The verdict is written down: a second restart reads it and reports nothing new.
    expect(ActionLedger.open(file(), { node: 'n1' }).recovery.interrupted).toEqual([]);
    expect(ActionLedger.open(file(), { node: 'n1' }).ledger.query(['a-suspend'])[0]!.status).toBe('interrupted');
  });

  it('skips a torn last line and keeps every complete record before it', async () => {
    const first = ActionLedger.open(file(), { node: 'n1' }).ledger;
    await resultOf(first.submit(request('pause', { actionId: 'a' }), async () => ok('a')));
    first.submit(request('pause', { actionId: 'b', vm: 'v2' }), () => new Promise<ActionResult>(() => {}));
    appendFileSync(file(), '{"k":"end","id":"b","status":"do');
    const { ledger, recovery } = ActionLedger.open(file(), { node: 'n1' });
    expect(recovery).toEqual({ interrupted: ['b'], badLines: 1 });
    expect(ledger.query(['a', 'b']).map((e) => e.status)).toEqual(['done', 'interrupted']);
    // The rewrite at open dropped the torn line: appends start on a fresh line.
    expect(() => lines(file())).not.toThrow();
    await resultOf(ledger.submit(request('pause', { actionId: 'c' }), async () => ok('c')));
    expect(ActionLedger.open(file(), { node: 'n1' }).recovery.badLines).toBe(0);
  });

  it('skips lines that parse but are not records', () => {
    writeFileSync(file(), '{"k":"start","id":"a"}\n[1,2]\n');
    expect(ActionLedger.open(file(), { node: 'n1' }).recovery).toEqual({ interrupted: [], badLines: 2 });
  });

  it('compacts its file: it keeps the last entries, and stays small however many actions ran', async () => {
    const { ledger } = ActionLedger.open(file(), { node: 'n1', maxEntries: 10 });
    for (let i = 0; i < 3000; i++)
      await resultOf(ledger.submit(request('pause', { actionId: `a${i}` }), async () => ok(`a${i}`)));
    // At most twice the kept entries' records plus a compaction period (500 entries at this size).
    expect(lines(file()).length).toBeLessThanOrEqual(2 * 10 + 2 * 500 + 2);
    const reopened = ActionLedger.open(file(), { node: 'n1', maxEntries: 10 });
    expect(lines(file())).toHaveLength(20);
    expect(reopened.ledger.query(['a2989', 'a2990', 'a2999']).map((e) => e.status)).toEqual([
      'unknown',
      'done',
      'done',
    ]);
  });
});
