import type { SweepRow } from './sweep.ts';

/** Score and confusion counts of a set of rows at one threshold (nab/sweeper.py `ThresholdScore`). */
export interface ThresholdScore {
  threshold: number;
  /** Raw NAB score: Σ FP penalties + per window (earliest detection's worth, or −fnWeight). */
  score: number;
  /** Rows (not windows) detected inside windows. */
  tp: number;
  tn: number;
  fp: number;
  /** Rows not detected inside windows. */
  fn: number;
  total: number;
  /** Windows with at least one detection (the rest cost fnWeight each). */
  detectedWindows: number;
}

/** The threshold NAB starts its sweep at: above every score, so nothing is detected. */
export const SWEEP_START_THRESHOLD = 1.1;

/**
 * NAB's score at every threshold worth trying (nab/sweeper.py `calcScoreByThreshold`): rows out
 * of probation, by descending anomaly score; the entry for threshold t counts every row with
 * score ≥ t as a detection. The first entry (1.1) is the null detector's score. Rows of several
 * files may be passed together (their windows have distinct keys); this is how the corpus-wide
 * threshold is optimised. `fnWeight` is what an undetected window costs.
 */
export function scoresByThreshold(rows: readonly SweepRow[], fnWeight: number): ThresholdScore[] {
  const scorable = rows.filter((r) => !r.probation).sort((a, b) => b.anomalyScore - a.anomalyScore);
  // Insertion order matters only for float summation; NAB's dict is "fp" then windows by first row.
  const windowBest = new Map<string, number>();
  for (const r of scorable) if (r.window !== null && !windowBest.has(r.window)) windowBest.set(r.window, -fnWeight);
  let fpSum = 0;
  const total = (): number => {
    let s = fpSum;
    for (const v of windowBest.values()) s += v;
    return s;
  };
  let tn = scorable.filter((r) => r.window === null).length;
  let fn = scorable.length - tn;
  let tp = 0;
  let fp = 0;
  const detected = new Set<string>();
  let threshold = SWEEP_START_THRESHOLD;
  const out: ThresholdScore[] = [];
  const save = (): void => {
    out.push({ threshold, score: total(), tp, tn, fp, fn, total: tp + tn + fp + fn, detectedWindows: detected.size });
  };
  for (const r of scorable) {
    if (r.anomalyScore !== threshold) {
      save();
      threshold = r.anomalyScore;
    }
    if (r.window === null) {
      fp += 1;
      tn -= 1;
      fpSum += r.sweepScore;
    } else {
      tp += 1;
      fn -= 1;
      detected.add(r.window);
      windowBest.set(r.window, Math.max(windowBest.get(r.window) ?? -fnWeight, r.sweepScore));
    }
  }
  save();
  return out;
}

/**
 * NAB's score of rows at a fixed threshold (nab/sweeper.py `scoreDataSet`): rows out of probation
 * with anomaly score ≥ `threshold` are detections; each window earns the best (earliest)
 * detection's worth, or −fnWeight when none; each detection outside a window adds its penalty.
 */
export function scoreAtThreshold(rows: readonly SweepRow[], threshold: number, fnWeight: number): ThresholdScore {
  const windowBest = new Map<string, number>();
  let fpSum = 0;
  let tp = 0;
  let tn = 0;
  let fp = 0;
  let fn = 0;
  const detectedWindows = new Set<string>();
  for (const r of rows) {
    if (r.probation) continue;
    const detected = r.anomalyScore >= threshold;
    if (r.window === null) {
      if (detected) {
        fp += 1;
        fpSum += r.sweepScore;
      } else tn += 1;
      continue;
    }
    const best = windowBest.get(r.window) ?? -fnWeight;
    if (detected) {
      tp += 1;
      detectedWindows.add(r.window);
      windowBest.set(r.window, Math.max(best, r.sweepScore));
    } else {
      fn += 1;
      windowBest.set(r.window, best);
    }
  }
  let score = fpSum;
  for (const v of windowBest.values()) score += v;
  return { threshold, score, tp, tn, fp, fn, total: tp + tn + fp + fn, detectedWindows: detectedWindows.size };
}

/**
 * The threshold with the best score over the given rows (nab/optimizer.py `optimizeThreshold`,
 * which sweeps all files' rows together): the first maximum in sweep order, i.e. the highest
 * threshold among ties.
 */
export function optimiseThreshold(rows: readonly SweepRow[], fnWeight: number): ThresholdScore {
  const all = scoresByThreshold(rows, fnWeight);
  let best = all[0];
  for (const s of all) if (best === undefined || s.score > best.score) best = s;
  if (best === undefined) throw new Error('no rows to optimise a threshold over');
  return best;
}
