import { describe, expect, it } from 'vitest';
import { barrierMakespan } from './plan.ts';

describe('barrierMakespan', () => {
  it("sums each step's longest action, whatever the actions' start times", () => {
    const actions = [
      { step: 0, start: 0, end: 3 },
      { step: 0, start: 0, end: 5 },
      { step: 1, start: 3, end: 5 },
      { step: 2, start: 5, end: 6 },
      { step: 2, start: 9, end: 9 },
    ];
    expect(barrierMakespan(actions)).toBe(5 + 2 + 1);
    expect(barrierMakespan([])).toBe(0);
  });
});
