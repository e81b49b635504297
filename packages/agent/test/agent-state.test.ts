import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openAgentState, TOKEN_FILE, VM_META_FILE } from '../src/state/agent-state.ts';
import { FencingToken } from '../src/state/fencing-token.ts';
import { StateDirError } from '../src/state/state-dir.ts';
import { VMMetaStore } from '../src/state/vm-meta-store.ts';
import { tempDirPerTest } from './temp-dir.ts';

describe('fencing token', () => {
  const dir = tempDirPerTest('entropy-token-');
  const file = () => join(dir.path, TOKEN_FILE);

  it('refuses an older token, admits an equal or newer one and a request without one', () => {
    const t = new FencingToken(file());
    expect(t.admit(undefined)).toEqual({ ok: true });
    expect(t.admit(5)).toEqual({ ok: true });
    expect(t.admit(5)).toEqual({ ok: true });
    expect(t.admit(4)).toEqual({ ok: false, newest: 5 });
    expect(t.admit(7)).toEqual({ ok: true });
    expect(t.admit(6)).toEqual({ ok: false, newest: 7 });
    expect(t.admit(undefined)).toEqual({ ok: true });
    expect(t.newest).toBe(7);
  });

  it('keeps the newest token across restarts', () => {
    new FencingToken(file()).admit(9);
    expect(new FencingToken(file()).admit(8)).toEqual({ ok: false, newest: 9 });
  });

  it('refuses to start on a token file it cannot read rather than guess', () => {
    writeFileSync(file(), '{"newest":"x"}');
    expect(() => new FencingToken(file())).toThrow(StateDirError);
  });
});

describe('VM metadata store', () => {
  const dir = tempDirPerTest('entropy-meta-');
  const file = () => join(dir.path, VM_META_FILE);
  const m = (vjob: string, mem = 512) => ({ vjob, demand: { cpu: 1, mem } });

  it('keeps each VM vjob and demand across restarts, and what was dropped stays dropped', () => {
    const store = new VMMetaStore(file());
    expect(store.set('v1', m('j1'))).toBe(true);
    expect(store.set('v1', m('j1'))).toBe(false);
    expect(
      store.setAll([
        ['v2', m('j2')],
        ['v3', m('j3', 64)],
        ['v1', m('j1')],
      ]),
    ).toBe(2);
    store.delete('v2');
    const again = new VMMetaStore(file());
    expect([again.get('v1'), again.get('v2'), again.get('v3')]).toEqual([m('j1'), undefined, m('j3', 64)]);
    expect(again.keepOnly(['v3'])).toBe(1);
    expect(JSON.parse(readFileSync(file(), 'utf8'))).toEqual({ vms: { v3: m('j3', 64) } });
  });

  it('restores what was there before a failed action', () => {
    const store = new VMMetaStore(file());
    store.set('v1', m('j1'));
    store.set('v1', m('j1', 1024));
    store.restore('v1', m('j1'));
    store.set('v2', m('j2'));
    store.restore('v2', undefined);
    expect([store.get('v1'), store.get('v2')]).toEqual([m('j1'), undefined]);
  });

  it('starts empty, and says so, on a file it cannot read', () => {
    writeFileSync(file(), 'not json');
    const problems: string[] = [];
    const store = new VMMetaStore(file(), (p) => problems.push(p));
    expect(store.get('v1')).toBeUndefined();
    expect(problems).toEqual([expect.stringContaining('not JSON')]);
  });
});

describe('state directory', () => {
  const dir = tempDirPerTest('entropy-state-');

  it('is created when missing and taken by one agent at a time; a dead agent lock is taken over', () => {
    const path = join(dir.path, 'deep', 'n1');
    const first = openAgentState(path, { node: 'n1', warn: () => {} });
    // A lock held by another live process (this test's parent) is refused.
    writeFileSync(join(path, 'agent.lock'), String(process.ppid));
    expect(() => openAgentState(path, { node: 'n1', warn: () => {} })).toThrow(/in use by another agent/);
    // A lock left by a process that is gone is not.
    writeFileSync(join(path, 'agent.lock'), '999999999');
    const second = openAgentState(path, { node: 'n1', warn: () => {} });
    second.close();
    first.ledger.close();
  });
});
