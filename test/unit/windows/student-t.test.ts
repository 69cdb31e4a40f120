import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { regularizedBeta, studentTCdf } from '../../../src/windows/student-t.ts';
import { summaryOf } from '../../../src/windows/summary.ts';
import { welchLowerTest } from '../../../src/windows/welch.ts';

describe('Student t CDF', () => {
  // Critical values from standard t tables (upper-tail probability 1 − q).
  it.each([
    { t: 6.313752, df: 1, q: 0.95 },
    { t: 2.228139, df: 10, q: 0.975 },
    { t: 2.749996, df: 30, q: 0.995 },
    { t: 5.89343, df: 5, q: 0.999 },
    { t: 1.983972, df: 100, q: 0.975 },
    { t: 0, df: 7, q: 0.5 },
    { t: 1.959964, df: 1e9, q: 0.975 },
  ])('P(T ≤ $t; df=$df) = $q', ({ t, df, q }) => {
    expect(studentTCdf(t, df)).toBeCloseTo(q, 6);
    expect(studentTCdf(-t, df)).toBeCloseTo(1 - q, 6);
  });

  it('deep tail keeps relative precision', () => {
    // P(T ≤ −8; df = 100) ≈ 1.136e-12.
    expect(studentTCdf(-8, 100) / 1.1364e-12).toBeCloseTo(1, 3);
  });

  it('is monotone, symmetric and within [0, 1]', () => {
    fc.assert(
      fc.property(fc.double({ min: -50, max: 50, noNaN: true }), fc.double({ min: -50, max: 50, noNaN: true }), fc.double({ min: 0.5, max: 1e4, noNaN: true }), (a, b, df) => {
        const [lo, hi] = a <= b ? [a, b] : [b, a];
        expect(studentTCdf(lo, df)).toBeLessThanOrEqual(studentTCdf(hi, df) + 1e-12);
        expect(studentTCdf(a, df) + studentTCdf(-a, df)).toBeCloseTo(1, 9);
        expect(studentTCdf(a, df)).toBeGreaterThanOrEqual(0);
        expect(studentTCdf(a, df)).toBeLessThanOrEqual(1);
      }),
    );
  });

  it('edge cases', () => {
    expect(studentTCdf(Infinity, 3)).toBe(1);
    expect(studentTCdf(-Infinity, 3)).toBe(0);
    expect(studentTCdf(1, 0)).toBeNaN();
    expect(regularizedBeta(0, 2, 3)).toBe(0);
    expect(regularizedBeta(1, 2, 3)).toBe(1);
    // I_x(1, 1) = x.
    expect(regularizedBeta(0.3, 1, 1)).toBeCloseTo(0.3, 12);
  });
});

describe('Welch one-sided test', () => {
  it('matches a hand-computed example', () => {
    // recent: mean 2, var 5/3 (n 4); reference: mean 4, var 20/3 (n 4)
    const r = welchLowerTest(summaryOf([0.5, 1.5, 2.5, 3.5]), summaryOf([1, 3, 5, 7]));
    // var(recent) = 5/3, var(ref) = 20/3; se = sqrt(5/12 + 20/12) = sqrt(25/12)
    expect(r.diff).toBeCloseTo(-2, 12);
    expect(r.t).toBeCloseTo(-2 / Math.sqrt(25 / 12), 10);
    // df = (25/12)² / (((5/12)² + (20/12)²) / 3) ≈ 4.41
    expect(r.df).toBeCloseTo(625 / 144 / ((25 / 144 + 400 / 144) / 3), 9);
    expect(r.p).toBeGreaterThan(0.05);
    expect(r.p).toBeLessThan(0.2);
    expect(r.cohensD).toBeCloseTo(2 / Math.sqrt((5 / 3 + 20 / 3) / 2), 9);
  });

  it('degenerate constant samples', () => {
    expect(welchLowerTest(summaryOf([0.5, 0.5]), summaryOf([1, 1])).p).toBe(0);
    expect(welchLowerTest(summaryOf([1, 1]), summaryOf([1, 1])).p).toBe(1);
    expect(() => welchLowerTest(summaryOf([1]), summaryOf([1, 1]))).toThrow(RangeError);
  });

  it('a higher recent mean never looks like a drop', () => {
    fc.assert(
      fc.property(fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { minLength: 3, maxLength: 30 }), fc.double({ min: 0.01, max: 1, noNaN: true }), (xs, up) => {
        const ref = summaryOf(xs);
        const recent = summaryOf(xs.map((x) => x + up));
        expect(welchLowerTest(recent, ref).p).toBeGreaterThanOrEqual(0.5);
      }),
    );
  });
});
