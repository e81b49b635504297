import { MAX_QUANTITY, TOKEN_RE, VJOB_ID_RE, VM_ID_RE } from '@entropy/protocol';
import * as z from 'zod';

/** The pieces every input schema is built of: quantities and ids, with the messages users read. */

/** A missing field says so, rather than that `undefined` has the wrong type. */
export const expected = (what: string) => ({
  error: (iss: { input?: unknown }) => (iss.input === undefined ? 'is required' : `must be ${what}`),
});
/** A resource quantity, in every input file: finite, not negative, at most the protocol's MAX_QUANTITY. */
export const amount = z
  .number(expected('a number'))
  .finite()
  .min(0, { error: 'must not be negative' })
  .max(MAX_QUANTITY, { error: `must be at most 2^50 (${MAX_QUANTITY})` });
export const id = z.string(expected('a string')).min(1, { error: 'must not be empty', abort: true });
/** Ids reach the agents' command lines and subjects: each kind matches the protocol's pattern, as on the wire. */
const idOf = (re: RegExp) => id.regex(re, { error: (iss) => `${JSON.stringify(iss.input)} must match ${re.source}` });
export const nodeId = idOf(TOKEN_RE);
export const vmId = idOf(VM_ID_RE);
export const vjobId = idOf(VJOB_ID_RE);
