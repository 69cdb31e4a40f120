import type { CostMatrix } from './profiles.ts';
import { MAX_TP_SIGMOID, scaledSigmoid } from './sigmoid.ts';
import { NAB_PROBATION_PERCENT, probationLength, type IndexWindow } from './windows.ts';

/** One row of a file as NAB's threshold sweep sees it (nab/sweeper.py `AnomalyPoint`). */
export interface SweepRow {
  /** The detector's anomaly score in [0, 1]; the row is a detection when it is ≥ the threshold. */
  anomalyScore: number;
  /** What a detection on this row is worth under the profile (NAB's S(t)). */
  sweepScore: number;
  /** Unique key of the window the row lies in (`file#k`), or null outside every window. */
  window: string | null;
  /** True in the probation period: NAB neither rewards nor penalises the row. */
  probation: boolean;
}

/**
 * Scores every row of one file as if it were a detection (nab/sweeper.py `calcSweepScore`):
 * - inside a window of width w ending at row e, row i is worth
 *   tpWeight · scaledSigmoid(−(e − i + 1)/w) / scaledSigmoid(−1), i.e. tpWeight on the first row;
 * - outside, before any window, −fpWeight;
 * - outside, after a window of width w ending at row e, fpWeight · scaledSigmoid(|i − e|/(w − 1)),
 *   a lighter penalty just after the window (a window one row wide gives −fpWeight, where NAB
 *   would divide by zero).
 * `file` only names the windows so that rows of many files can be swept together.
 */
export function sweepFile(
  file: string,
  anomalyScores: readonly number[],
  windows: readonly IndexWindow[],
  cost: CostMatrix,
  probationPercent = NAB_PROBATION_PERCENT,
): SweepRow[] {
  const probation = probationLength(anomalyScores.length, probationPercent);
  const rows: SweepRow[] = [];
  let next = 0;
  let current: IndexWindow | null = null;
  let currentKey: string | null = null;
  let previous: IndexWindow | null = null;
  anomalyScores.forEach((anomalyScore, i) => {
    const upcoming = windows[next];
    if (current === null && upcoming !== undefined && upcoming.start === i) {
      current = upcoming;
      currentKey = `${file}#${next}`;
      next += 1;
    }
    let sweepScore: number;
    if (current !== null) {
      const width = current.end - current.start + 1;
      sweepScore = (scaledSigmoid(-(current.end - i + 1) / width) * cost.tpWeight) / MAX_TP_SIGMOID;
    } else if (previous === null) {
      sweepScore = -cost.fpWeight;
    } else {
      const width = previous.end - previous.start + 1;
      const position = width > 1 ? Math.abs(previous.end - i) / (width - 1) : Number.POSITIVE_INFINITY;
      sweepScore = scaledSigmoid(position) * cost.fpWeight;
    }
    rows.push({ anomalyScore, sweepScore, window: currentKey, probation: i < probation });
    if (current !== null && i === current.end) {
      previous = current;
      current = null;
      currentKey = null;
    }
  });
  return rows;
}
