import { describe, expect, it } from 'vitest';
import { ProtocolError } from './errors.ts';
import { inboxPrefixOf, subjects } from './subjects.ts';

describe('subjects', () => {
  it('builds every subject under the default prefix', () => {
    const s = subjects();
    expect(s.nodeStatus('n1')).toBe('entropy.node.n1.status');
    expect(s.nodeHello('n1')).toBe('entropy.node.n1.hello');
    expect(s.nodeAction('n1')).toBe('entropy.node.n1.action');
    expect(s.simLink('n1')).toBe('entropy.node.n1.sim');
    expect(s.nodeLedger('n1')).toBe('entropy.node.n1.ledger');
    expect(s.nodeMeta('n1')).toBe('entropy.node.n1.meta');
    expect(s.nodePower('n1')).toBe('entropy.node.n1.power');
    expect(s.node('n1')).toBe('entropy.node.n1.>');
    expect(s.allNodeStatus()).toBe('entropy.node.*.status');
    expect(s.planProgress('p-7')).toBe('entropy.plan.p-7.progress');
    expect(s.control('apply')).toBe('entropy.control.apply');
    expect(s.all()).toBe('entropy.>');
  });

  it('uses a configured multi-token prefix', () => {
    const s = subjects('lab.e2');
    expect(s.nodeAction('n3')).toBe('lab.e2.node.n3.action');
    expect(s.parse('lab.e2.node.n3.action')).toEqual({ kind: 'action', node: 'n3' });
    expect(s.parse('entropy.node.n3.action')).toBeUndefined();
  });

  it.each(['', 'a.b', 'n*', '>', 'n 1', 'x'.repeat(65)])(
    'rejects the node id %j with a code naming the field',
    (bad) => {
      const err = (() => {
        try {
          subjects().nodeStatus(bad);
        } catch (e) {
          return e as ProtocolError;
        }
      })();
      expect(err).toBeInstanceOf(ProtocolError);
      expect(err?.code).toBe('ENTROPY_INVALID_SUBJECT');
      expect(err?.field).toBe('node');
    },
  );

  it('rejects a bad prefix and a bad plan id', () => {
    expect(() => subjects('a..b')).toThrow(/prefix/);
    expect(() => subjects('a.*')).toThrow(/prefix/);
    expect(() => subjects().planProgress('p.1')).toThrow(/planId/);
  });

  it('parses what it builds and nothing else', () => {
    const s = subjects();
    expect(s.parse(s.nodeStatus('n1'))).toEqual({ kind: 'status', node: 'n1' });
    expect(s.parse(s.nodeHello('n1'))).toEqual({ kind: 'hello', node: 'n1' });
    expect(s.parse(s.simLink('n1'))).toEqual({ kind: 'simLink', node: 'n1' });
    expect(s.parse(s.nodeLedger('n1'))).toEqual({ kind: 'ledger', node: 'n1' });
    expect(s.parse(s.nodeMeta('n1'))).toEqual({ kind: 'meta', node: 'n1' });
    expect(s.parse(s.nodePower('n1'))).toEqual({ kind: 'power', node: 'n1' });
    expect(s.parse(s.control('node'))).toEqual({ kind: 'control', verb: 'node' });
    expect(s.parse(s.planProgress('p1'))).toEqual({ kind: 'progress', planId: 'p1' });
    expect(s.parse(s.control('queue'))).toEqual({ kind: 'control', verb: 'queue' });
    expect(s.parse('entropy.node.n1.other')).toBeUndefined();
    expect(s.parse('entropy.control.reboot')).toBeUndefined();
    expect(s.parse('_INBOX.abc')).toBeUndefined();
  });

  it('gives each user an inbox prefix of its own, one token under _INBOX, and refuses a user name that is not one token', () => {
    expect(inboxPrefixOf('agent-n4')).toBe('_INBOX.agent-n4');
    expect(inboxPrefixOf('entropy-controller')).toBe('_INBOX.entropy-controller');
    expect(() => inboxPrefixOf('a.b')).toThrow(/user/);
    expect(() => inboxPrefixOf('>')).toThrow(/user/);
  });
});
