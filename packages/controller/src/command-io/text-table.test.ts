import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { withThousands } from './text-table.ts';

describe('withThousands', () => {
  it("writes what toLocaleString('en-US') writes for any integer", () => {
    fc.assert(
      fc.property(fc.integer({ min: -1e15, max: 1e15 }), (n) => withThousands(n) === n.toLocaleString('en-US')),
    );
  });

  it('rounds as Math.round does', () => {
    expect(withThousands(1234.5)).toBe('1,235');
    expect(withThousands(999.4)).toBe('999');
    expect(withThousands(-0.2)).toBe('0');
  });
});
