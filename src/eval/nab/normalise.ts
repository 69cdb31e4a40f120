import type { CostMatrix } from './profiles.ts';

/** The raw scores that anchor NAB's 0–100 scale for one profile. */
export interface NabAnchors {
  /** The null detector (never detects): every window is a miss, −fnWeight each. */
  null: number;
  /** The perfect detector: every window caught on its first row, tpWeight each. */
  perfect: number;
}

/** Anchors for a corpus with `windowCount` labelled windows (nab/runner.py `normalize`). */
export function nabAnchors(windowCount: number, cost: CostMatrix): NabAnchors {
  return { null: -cost.fnWeight * windowCount, perfect: cost.tpWeight * windowCount };
}

/** NAB's reported score: 100 · (raw − null) / (perfect − null); null = 0, perfect = 100. */
export function normaliseScore(raw: number, anchors: NabAnchors): number {
  const span = anchors.perfect - anchors.null;
  if (span === 0) throw new Error('cannot normalise: the perfect and null detectors score the same (no windows?)');
  return (100 * (raw - anchors.null)) / span;
}
