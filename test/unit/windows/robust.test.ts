import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MAD_TO_SIGMA, robustStats } from '../../../src/windows/robust.ts';

describe('robustStats (median, scaled MAD)', () => {
  it.each([
    { xs: [], location: 0, scale: 0 },
    { xs: [3], location: 3, scale: 0 },
    { xs: [1, 1, 2, 2, 4, 6, 9], location: 2, scale: MAD_TO_SIGMA },
    { xs: [10, 10, 10, 10, 1000], location: 10, scale: 0 },
  ])('$xs', ({ xs, location, scale }) => {
    const r = robustStats(xs);
    expect(r.n).toBe(xs.length);
    expect(r.location).toBeCloseTo(location, 9);
    expect(r.scale).toBeCloseTo(scale, 9);
  });

  it('fewer than half the values as outliers move neither location nor scale past the clean range', () => {
    fc.assert(
      fc.property(
        fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { minLength: 11, maxLength: 60 }),
        fc.double({ min: 1e3, max: 1e9, noNaN: true }),
        (clean, outlier) => {
          const k = Math.floor((clean.length - 1) / 4);
          const r = robustStats([...clean.slice(k), ...Array<number>(k).fill(outlier)]);
          expect(r.location).toBeLessThanOrEqual(1);
          expect(r.scale).toBeLessThanOrEqual(MAD_TO_SIGMA);
        },
      ),
    );
  });

  it('does not reorder its input', () => {
    const xs = [5, 1, 3];
    robustStats(xs);
    expect(xs).toEqual([5, 1, 3]);
  });
});
