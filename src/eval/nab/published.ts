import { scoreCorpus, type CorpusScore } from './corpus.ts';
import { loadPublishedFileScores, loadPublishedScores, type NabCorpus } from './loader.ts';
import { NAB_PROFILES, type NabProfile } from './profiles.ts';

/** Our score of a published detector next to the one NAB published, for one profile. */
export interface ReproducedProfile {
  /** The threshold NAB chose for the detector and profile (config/thresholds.json). */
  threshold: number;
  /** Normalised score in results/final_results.json. */
  published: number;
  ours: number;
  /** ours − published, normalised points. */
  diff: number;
  /** Raw corpus score: NAB's Totals row and ours. */
  raw: { published: number; ours: number };
  /** Largest |ours − NAB's| raw score of a single file (results/<detector>/<detector>_<profile>_scores.csv). */
  maxFileDiff: number;
  corpus: CorpusScore;
}

/**
 * Re-scores a published detector from its per-row results with our scorer, at the threshold
 * NAB chose for it, for each profile, and compares totals and per-file scores with NAB's.
 */
export function reproducePublished(corpus: NabCorpus, detector: string): Record<NabProfile, ReproducedProfile> {
  const files = corpus.series.map((s) => ({ name: s.name, anomalyScores: loadPublishedScores(corpus.dir, detector, s), windows: s.windows }));
  const out = {} as Record<NabProfile, ReproducedProfile>;
  for (const profile of NAB_PROFILES) {
    const threshold = corpus.thresholds[detector]?.[profile]?.threshold;
    const published = corpus.finalResults[detector]?.[profile];
    if (threshold === undefined || published === undefined) throw new Error(`no published threshold or score for ${detector}/${profile}`);
    const score = scoreCorpus(files, corpus.profiles[profile], threshold);
    const theirs = loadPublishedFileScores(corpus.dir, detector, profile);
    let maxFileDiff = 0;
    for (const f of score.files) {
      const t = theirs.files.get(f.name);
      maxFileDiff = Math.max(maxFileDiff, t === undefined ? Number.POSITIVE_INFINITY : Math.abs(f.score.score - t));
    }
    out[profile] = {
      threshold,
      published,
      ours: score.normalised,
      diff: score.normalised - published,
      raw: { published: theirs.total, ours: score.raw },
      maxFileDiff,
      corpus: score,
    };
  }
  return out;
}
