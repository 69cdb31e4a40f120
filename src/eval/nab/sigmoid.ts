/**
 * NAB's scaled sigmoid (nab/sweeper.py `scaledSigmoid`): the unweighted score of a detection at
 * a position relative to an anomaly window.
 *
 * Positions in [-1, 0) are inside the window (-1 = left edge, earliest and best, 0 = just past the
 * right edge); positions > 0 are after the window, in units of window widths. Past 3 widths the
 * value is a flat -1. 2·σ(-5x) − 1 runs from +0.98661 at x = −1 through 0 at x = 0 to −0.98661 at x = 1.
 */
export function scaledSigmoid(relativePosition: number): number {
  if (relativePosition > 3) return -1;
  return 2 / (1 + Math.exp(5 * relativePosition)) - 1;
}

/** The largest value a detection inside a window can earn before weighting: scaledSigmoid(−1). */
export const MAX_TP_SIGMOID = scaledSigmoid(-1);
