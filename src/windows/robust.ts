import { medianAbsoluteDeviation, median } from 'simple-statistics';

/** MAD × 1.4826 estimates σ for normal data (1 / Φ⁻¹(3/4)). */
export const MAD_TO_SIGMA = 1.4826;

/** Robust location and scale of a sample. */
export interface RobustStats {
  n: number;
  /** Median. */
  location: number;
  /** Median absolute deviation × 1.4826 (a σ estimate that outliers barely move). */
  scale: number;
}

/**
 * Median and scaled MAD: both have a 50 % breakdown point, so a baseline built from them is not
 * moved by a few outlying minutes (the spike we are trying to detect, or a past one). O(n log n)
 * over the window; callers recompute it when a bucket closes, not per event.
 */
export function robustStats(values: readonly number[]): RobustStats {
  if (values.length === 0) return { n: 0, location: 0, scale: 0 };
  const xs = [...values];
  return { n: xs.length, location: median(xs), scale: MAD_TO_SIGMA * medianAbsoluteDeviation(xs) };
}
