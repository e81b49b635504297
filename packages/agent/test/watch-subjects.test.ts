import { describe, expect, it } from 'vitest';
import { watchSubscriptions } from '../src/watch-subjects.ts';

describe('watchSubscriptions', () => {
  it('without a filter: the prefix and every reply, unpaired ones shown', () => {
    expect(watchSubscriptions([], 'entropy', ['_INBOX'])).toEqual({
      subjects: ['entropy.>', '_INBOX.>'],
      unpairedReplies: true,
    });
  });
  it('with filters: those subjects and the replies to their requests only', () => {
    expect(
      watchSubscriptions(['entropy.node.*.action', 'entropy.control.>'], 'entropy', ['_INBOX', '_INBOX_n1']),
    ).toEqual({
      subjects: ['entropy.node.*.action', 'entropy.control.>', '_INBOX.>', '_INBOX_n1.>'],
      unpairedReplies: false,
    });
  });
  it('a filter that names replies shows them all, without a second subscription', () => {
    expect(watchSubscriptions(['_INBOX.>'], 'entropy', ['_INBOX'])).toEqual({
      subjects: ['_INBOX.>'],
      unpairedReplies: true,
    });
    expect(watchSubscriptions(['>'], 'entropy', ['_INBOX'])).toEqual({ subjects: ['>'], unpairedReplies: true });
  });
  it('refuses what is not a subject', () => {
    for (const bad of ['a..b', 'a.>.b', 'a b', '', 'a.b*'])
      expect(() => watchSubscriptions([bad], 'entropy', ['_INBOX'])).toThrow(/is not a NATS subject/);
  });
});
