import { addToMean } from 'simple-statistics';
import { z } from 'zod';

/**
 * A mergeable summary of a sample: count, mean and M2 (the sum of squared deviations from the
 * mean). Welford's update adds one value in O(1); Chan's formula merges two summaries in O(1), so
 * a per-run stage can hand partial summaries to a cohort stage and minute buckets can be combined
 * into any window. Kept as M2 rather than a sum of squares: no cancellation when the variance is
 * small next to the mean (scores around 0.9 ± 0.01).
 */
export const summarySchema = z.object({
  n: z.number().int().nonnegative(),
  mean: z.number(),
  m2: z.number().nonnegative(),
});
export type Summary = z.infer<typeof summarySchema>;

export const EMPTY_SUMMARY: Summary = Object.freeze({ n: 0, mean: 0, m2: 0 });

/** The summary with one more value (Welford). */
export function addValue(s: Summary, x: number): Summary {
  const n = s.n + 1;
  const mean = addToMean(s.mean, s.n, x);
  // (x − old mean)(x − new mean) ≥ 0 mathematically; clamp the rounding below 0 away.
  return { n, mean, m2: Math.max(0, s.m2 + (x - s.mean) * (x - mean)) };
}

/** The summary of both samples (Chan et al.): commutative, and associative up to rounding. */
export function mergeSummaries(a: Summary, b: Summary): Summary {
  if (b.n === 0) return a;
  if (a.n === 0) return b;
  const n = a.n + b.n;
  const delta = b.mean - a.mean;
  // Weighted mean written symmetrically so that merge(a, b) and merge(b, a) agree bit for bit.
  const mean = (a.n * a.mean + b.n * b.mean) / n;
  return { n, mean, m2: a.m2 + b.m2 + (delta * delta * (a.n * b.n)) / n };
}

/** Summary of a list of values. */
export const summaryOf = (values: Iterable<number>): Summary => {
  let s: Summary = EMPTY_SUMMARY;
  for (const x of values) s = addValue(s, x);
  return s;
};

/** Unbiased sample variance (n − 1 in the denominator); 0 below two values. */
export const sampleVariance = (s: Summary): number => (s.n > 1 ? s.m2 / (s.n - 1) : 0);

/** Summary from count, sum and sum of squares (e.g. a ClickHouse rollup row). */
export function summaryFromSums(n: number, sum: number, sumSq: number): Summary {
  if (n === 0) return EMPTY_SUMMARY;
  const mean = sum / n;
  return { n, mean, m2: Math.max(0, sumSq - sum * mean) };
}
