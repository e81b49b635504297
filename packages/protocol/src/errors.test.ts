import { describe, expect, it } from 'vitest';
import { ActionErrorCode, isFinalActionError } from './errors.ts';

describe('action error codes', () => {
  it('calls final the failures a retry cannot cure, and only those', () => {
    const final = Object.values(ActionErrorCode).filter(isFinalActionError).sort();
    expect(final).toEqual([
      'ENTROPY_ACTION_ID_REUSED',
      'ENTROPY_BAD_REQUEST',
      'ENTROPY_INTERRUPTED',
      'ENTROPY_INVALID_STATE',
      'ENTROPY_NODE_NOT_EMPTY',
      'ENTROPY_POWER_UNSUPPORTED',
      'ENTROPY_STALE_LEADER',
      'ENTROPY_WRONG_NODE',
    ]);
    expect(isFinalActionError('ENTROPY_SOMETHING_NEW')).toBe(false);
  });
});
