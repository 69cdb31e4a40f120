import fc from 'fast-check';
import { mean, sampleVariance as ssSampleVariance } from 'simple-statistics';
import { describe, expect, it } from 'vitest';
import { addValue, EMPTY_SUMMARY, mergeSummaries, sampleVariance, summaryFromSums, summaryOf, summarySchema, type Summary } from '../../../src/windows/summary.ts';

const values = fc.array(fc.double({ min: -1e3, max: 1e3, noNaN: true }), { maxLength: 40 });
const close = (a: Summary, b: Summary) => {
  expect(a.n).toBe(b.n);
  expect(a.mean).toBeCloseTo(b.mean, 6);
  expect(a.m2).toBeCloseTo(b.m2, 3);
};

describe('summary (count, mean, M2)', () => {
  it.each([
    { xs: [], n: 0, mean: 0, variance: 0 },
    { xs: [5], n: 1, mean: 5, variance: 0 },
    { xs: [1, 2, 3, 4], n: 4, mean: 2.5, variance: 5 / 3 },
    { xs: [0.9, 0.9, 0.9], n: 3, mean: 0.9, variance: 0 },
    { xs: [1e9 + 1, 1e9 + 2, 1e9 + 3], n: 3, mean: 1e9 + 2, variance: 1 },
  ])('summaryOf($xs)', ({ xs, n, mean: m, variance }) => {
    const s = summaryOf(xs);
    expect(s.n).toBe(n);
    expect(s.mean).toBeCloseTo(m, 9);
    expect(sampleVariance(s)).toBeCloseTo(variance, 6);
    expect(summarySchema.safeParse(s).success).toBe(true);
  });

  it('agrees with simple-statistics mean and sample variance', () => {
    fc.assert(
      fc.property(fc.array(fc.double({ min: -1e3, max: 1e3, noNaN: true }), { minLength: 2, maxLength: 50 }), (xs) => {
        const s = summaryOf(xs);
        expect(s.mean).toBeCloseTo(mean(xs), 6);
        expect(sampleVariance(s)).toBeCloseTo(ssSampleVariance(xs), 3);
      }),
    );
  });

  it('merge of the parts is the summary of the whole', () => {
    fc.assert(fc.property(values, values, (a, b) => close(mergeSummaries(summaryOf(a), summaryOf(b)), summaryOf([...a, ...b]))));
  });

  it('merge is commutative (bit for bit) and associative (up to rounding), with the empty summary as identity', () => {
    fc.assert(
      fc.property(values, values, values, (a, b, c) => {
        const [x, y, z] = [summaryOf(a), summaryOf(b), summaryOf(c)];
        expect(mergeSummaries(x, y)).toEqual(mergeSummaries(y, x));
        close(mergeSummaries(mergeSummaries(x, y), z), mergeSummaries(x, mergeSummaries(y, z)));
        expect(mergeSummaries(x, EMPTY_SUMMARY)).toEqual(x);
        expect(mergeSummaries(EMPTY_SUMMARY, x)).toEqual(x);
      }),
    );
  });

  it('summaryFromSums converts a count/sum/sum-of-squares rollup', () => {
    const xs = [0.5, 0.75, 1, 0.25];
    const s = summaryFromSums(xs.length, xs.reduce((a, b) => a + b), xs.reduce((a, b) => a + b * b, 0));
    close(s, summaryOf(xs));
    expect(summaryFromSums(0, 0, 0)).toEqual(EMPTY_SUMMARY);
  });

  it('M2 never goes negative through rounding', () => {
    let s = EMPTY_SUMMARY;
    for (let i = 0; i < 1000; i++) s = addValue(s, 0.1);
    expect(s.m2).toBeGreaterThanOrEqual(0);
    expect(sampleVariance(s)).toBeLessThan(1e-15);
  });
});
