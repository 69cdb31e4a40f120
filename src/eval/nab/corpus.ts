import { nabAnchors, normaliseScore } from './normalise.ts';
import type { CostMatrix } from './profiles.ts';
import { sweepFile, type SweepRow } from './sweep.ts';
import { optimiseThreshold, scoreAtThreshold, type ThresholdScore } from './threshold.ts';
import type { IndexWindow } from './windows.ts';

/** One file's detector output, ready to score. */
export interface ScoredFile {
  /** "category/file.csv", as in the label file. */
  name: string;
  /** One anomaly score in [0, 1] per row, in row order. */
  anomalyScores: readonly number[];
  windows: readonly IndexWindow[];
}

export interface CorpusScore {
  threshold: number;
  /** Σ of the files' raw scores. */
  raw: number;
  /** 0 = null detector, 100 = perfect. */
  normalised: number;
  totals: Omit<ThresholdScore, 'threshold' | 'score'>;
  files: { name: string; score: ThresholdScore }[];
}

/** Every row of every file swept under one profile (the optimiser's input). */
export function sweepCorpus(files: readonly ScoredFile[], cost: CostMatrix): SweepRow[][] {
  return files.map((f) => sweepFile(f.name, f.anomalyScores, f.windows, cost));
}

/**
 * NAB's corpus score at a threshold (nab/scorer.py `scoreCorpus` + nab/runner.py `normalize`):
 * each file scored at the threshold, the raw scores summed, then normalised against the null and
 * perfect detectors over the same windows. With no threshold, the corpus-optimal one is used
 * first, as NAB's optimise step does for a new detector.
 */
export function scoreCorpus(files: readonly ScoredFile[], cost: CostMatrix, threshold?: number): CorpusScore {
  const swept = sweepCorpus(files, cost);
  const t = threshold ?? optimiseThreshold(swept.flat(), cost.fnWeight).threshold;
  const perFile = files.map((f, i) => ({ name: f.name, score: scoreAtThreshold(swept[i] ?? [], t, cost.fnWeight) }));
  const totals = { tp: 0, tn: 0, fp: 0, fn: 0, total: 0, detectedWindows: 0 };
  let raw = 0;
  for (const { score } of perFile) {
    raw += score.score;
    totals.tp += score.tp;
    totals.tn += score.tn;
    totals.fp += score.fp;
    totals.fn += score.fn;
    totals.total += score.total;
    totals.detectedWindows += score.detectedWindows;
  }
  const windowCount = files.reduce((n, f) => n + f.windows.length, 0);
  return { threshold: t, raw, normalised: normaliseScore(raw, nabAnchors(windowCount, cost)), totals, files: perFile };
}

/** The corpus scored under each profile at its own corpus-optimal threshold, as NAB reports a new detector. */
export function scoreProfiles<P extends string>(files: readonly ScoredFile[], profiles: Record<P, CostMatrix>): Record<P, CorpusScore> {
  const out = {} as Record<P, CorpusScore>;
  for (const name of Object.keys(profiles) as P[]) out[name] = scoreCorpus(files, profiles[name]);
  return out;
}
