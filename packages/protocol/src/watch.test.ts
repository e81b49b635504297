import { describe, expect, it } from 'vitest';
import { encode } from './codec.ts';
import { watch } from './watch.ts';

describe('watch', () => {
  it('prints each message under the prefix as a decoded JSON line, and bad ones with their error', async () => {
    const messages = [
      { subject: 'entropy.node.n1.hello', data: encode('hello', { node: 'n1', driver: 'sim', capacity: { cpu: 1 }, startedAt: 5 }) },
      { subject: 'entropy.node.n1.status', data: new Uint8Array([0x82]) },
      { subject: 'entropy.node.n1.ledger', data: encode('ledgerQuery', { actionIds: ['a1'] }) },
      { subject: 'entropy.node.n1.power', data: encode('powerRequest', { actionId: 'p1:a2', planId: 'p1', type: 'shutdownNode', timeoutMs: 1000 }) },
      { subject: 'entropy.something.else', data: new Uint8Array(3) },
    ];
    const subscribed: string[] = [];
    const lines: string[] = [];
    await watch({ subscribe: (subject) => (subscribed.push(subject), messages) as never }, (l) => lines.push(l));
    expect(subscribed).toEqual(['entropy.>']);
    expect(lines.map((l) => JSON.parse(l))).toEqual([
      { subject: 'entropy.node.n1.hello', msg: { node: 'n1', driver: 'sim', capacity: { cpu: 1 }, startedAt: 5 } },
      { subject: 'entropy.node.n1.status', error: expect.objectContaining({ code: 'ENTROPY_DECODE', field: '$' }) },
      { subject: 'entropy.node.n1.ledger', msg: { actionIds: ['a1'] } },
      { subject: 'entropy.node.n1.power', msg: { actionId: 'p1:a2', planId: 'p1', type: 'shutdownNode', timeoutMs: 1000 } },
      { subject: 'entropy.something.else', bytes: 3 },
    ]);
  });
});
