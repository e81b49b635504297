import type { ActionResult } from '@entropy/protocol';
import { describe, expect, it } from 'vitest';
import { ActionLedger } from '../src/action-ledger.ts';
import { request } from './requests.ts';

const ok = (actionId: string): ActionResult => ({ actionId, node: 'n1', ok: true, durationMs: 1 });

describe('action ledger', () => {
  it('runs an action id once: a retry while running shares the run, a later retry gets the result', async () => {
    const ledger = new ActionLedger();
    let runs = 0;
    let finish!: (r: ActionResult) => void;
    const exec = () => (runs++, new Promise<ActionResult>((r) => (finish = r)));
    const first = ledger.submit(request('pause'), exec);
    const retry = ledger.submit(request('pause'), exec);
    expect([first.kind, retry.kind]).toEqual(['new', 'duplicate']);
    finish(ok('a-pause'));
    expect(await (retry as { result: Promise<ActionResult> }).result).toEqual(ok('a-pause'));
    expect(ledger.submit(request('pause'), exec).kind).toBe('duplicate');
    expect(runs).toBe(1);
  });

  it('flags an id reused for another action', () => {
    const ledger = new ActionLedger();
    ledger.submit(request('pause'), async () => ok('a-pause'));
    expect(ledger.submit(request('pause', { vm: 'v2' }), async () => ok('x'))).toEqual({ kind: 'conflict', first: { type: 'pause', vm: 'v1' } });
  });

  it('forgets the oldest finished entries beyond its size', async () => {
    const ledger = new ActionLedger(2);
    for (const id of ['a', 'b', 'c']) await (ledger.submit(request('pause', { actionId: id }), async () => ok(id)) as { result: Promise<ActionResult> }).result;
    ledger.submit(request('pause', { actionId: 'd' }), async () => ok('d'));
    expect(['a', 'b', 'c', 'd'].map((id) => ledger.has(id))).toEqual([false, false, true, true]);
  });
});
