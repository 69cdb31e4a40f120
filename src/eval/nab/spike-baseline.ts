import { z } from 'zod';

/**
 * Spike baseline: a streaming detector for one numeric series, the scorer runwarden's cost-spike
 * detector can adopt for a cohort's spend per minute. Each point is scored against a robust
 * baseline of the points before it (median and MAD of a trailing window, which outliers barely
 * move), must clear a floor (so that noise on a flat series never fires), and must beat every
 * deviation of the recent past (so that a noisy series' usual swings do not fire either). After an
 * alert the detector stays quiet for a while, as a throttle with expiry would.
 *
 * Pure: the result depends only on (state, point, params); the state is never mutated. Event
 * time, not the wall clock, ages the window, so a replay scores exactly as the live stream did.
 */

/** MAD × 1.4826 estimates σ for normal data. */
const MAD_TO_SIGMA = 1.4826;
/** Mean absolute deviation × 1.2533 estimates σ for normal data; used when the MAD is 0. */
const MEAN_AD_TO_SIGMA = 1.2533;

export const spikeBaselineParamsSchema = z
  .object({
    /** Trailing baseline length, points. */
    baselinePoints: z.number().int().min(3),
    /** Trailing baseline span, ms of event time; null = bounded by `baselinePoints` only. */
    baselineMs: z.number().positive().nullable(),
    /** Points the baseline must hold before a point is scored (earlier points score 0). */
    minHistory: z.number().int().min(3),
    /** Smallest σ, in the series' units (usd for spend); 0 = none. */
    absFloor: z.number().nonnegative(),
    /** Smallest σ as a share of |baseline median|. */
    relFloor: z.number().nonnegative(),
    /** Smallest deviation, in σ, that can alert. */
    alertZ: z.number().positive(),
    /** `up` scores rises only (spend); `both` scores drops too. */
    direction: z.enum(['up', 'both']),
    /** A point alerts only if its deviation beats every deviation of this many points before it; 0 = off. */
    recordPoints: z.number().int().nonnegative(),
    /** After an alert, this many points score 0. */
    cooldownPoints: z.number().int().nonnegative(),
  })
  .refine((p) => p.minHistory <= p.baselinePoints, { message: 'minHistory must not exceed baselinePoints', path: ['minHistory'] });
export type SpikeBaselineParams = z.infer<typeof spikeBaselineParamsSchema>;

/** The parameters of the NAB evaluation (bench/eval-nab.ts): one global set for all 58 series. */
export const SPIKE_BASELINE_NAB_PARAMS: SpikeBaselineParams = {
  baselinePoints: 500,
  baselineMs: null,
  minHistory: 50,
  absFloor: 0,
  relFloor: 0.15,
  alertZ: 2,
  direction: 'both',
  recordPoints: 1000,
  cooldownPoints: 100,
};

export interface SpikeBaselineState {
  /** Event times (epoch ms) of the baseline points, oldest first. */
  times: readonly number[];
  /** Values of the baseline points, oldest first. */
  values: readonly number[];
  /** The same values, ascending (for the median and MAD). */
  sorted: readonly number[];
  /** Latest event time seen (ms); the age limit counts from it, so a late point cannot rewind the window. */
  maxTime: number;
  /** Points scored so far (the clock of `record`). */
  scored: number;
  /** Candidates for the largest deviation of the last `recordPoints` scored points: z decreasing, `at` increasing. */
  record: readonly { at: number; z: number }[];
  /** Points since the last alert; null = none yet. */
  sinceAlert: number | null;
}

export const initialSpikeBaselineState = (): SpikeBaselineState => ({
  times: [],
  values: [],
  sorted: [],
  maxTime: Number.NEGATIVE_INFINITY,
  scored: 0,
  record: [],
  sinceAlert: null,
});

export interface SpikeBaselinePoint {
  /** Event time, epoch ms. */
  ts: number;
  value: number;
}

export interface SpikeBaselineResult {
  state: SpikeBaselineState;
  /** Anomaly score in [0, 1]: z / (z + bar); ≥ 0.5 is an alert. 0 without history or while cooling down. */
  score: number;
  /** Deviation from the baseline median in σ; null without enough history. */
  z: number | null;
  /** What z had to reach: max(alertZ, the recent record). */
  bar: number;
  /** The baseline the point was scored against; null without enough history. */
  baseline: { median: number; sigma: number } | null;
  alert: boolean;
}

/** Index of the first element ≥ x in an ascending array. */
function lowerBound(xs: readonly number[], x: number): number {
  let lo = 0;
  let hi = xs.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((xs[mid] ?? 0) < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function sortedMedian(xs: readonly number[]): number {
  const n = xs.length;
  const hi = xs[n >>> 1] ?? 0;
  return n % 2 === 1 ? hi : ((xs[(n >>> 1) - 1] ?? 0) + hi) / 2;
}

/**
 * σ of an ascending sample around its median m: 1.4826 · MAD, or 1.2533 · mean |x − m| when half
 * the sample or more equals m (a quantised series), where the MAD is 0.
 */
function robustSigma(sorted: readonly number[], m: number): number {
  const n = sorted.length;
  // |x − m| in ascending order merges two runs going outward from m: walk it to the middle.
  let left = lowerBound(sorted, m) - 1;
  let right = left + 1;
  let prev = 0;
  let cur = 0;
  for (let k = 0; k <= n >>> 1; k++) {
    const dl = left >= 0 ? m - (sorted[left] ?? 0) : Number.POSITIVE_INFINITY;
    const dr = right < n ? (sorted[right] ?? 0) - m : Number.POSITIVE_INFINITY;
    prev = cur;
    if (dl <= dr) {
      cur = dl;
      left -= 1;
    } else {
      cur = dr;
      right += 1;
    }
  }
  const mad = n % 2 === 1 ? cur : (prev + cur) / 2;
  if (mad > 0) return MAD_TO_SIGMA * mad;
  let sum = 0;
  for (const x of sorted) sum += Math.abs(x - m);
  return (MEAN_AD_TO_SIGMA * sum) / n;
}

function deviationInSigma(value: number, median: number, sigma: number, direction: SpikeBaselineParams['direction']): number {
  const dev = direction === 'up' ? Math.max(0, value - median) : Math.abs(value - median);
  if (dev === 0) return 0;
  return sigma > 0 ? dev / sigma : Number.POSITIVE_INFINITY;
}

/**
 * Scores one point, then adds it to the baseline.
 * - Baseline: the last `baselinePoints` points no older than `baselineMs` before the latest event
 *   time; σ = robust σ of the baseline, raised to max(absFloor, relFloor · |median|).
 * - z = |value − median| / σ (rises only for `up`).
 * - bar = max(alertZ, largest z of the last `recordPoints` scored points); score = z / (z + bar),
 *   so the point alerts (score ≥ 0.5) when z ≥ bar.
 * - After an alert the next `cooldownPoints` points score 0.
 */
export function spikeBaselineStep(state: SpikeBaselineState, point: SpikeBaselinePoint, params: SpikeBaselineParams): SpikeBaselineResult {
  const maxTime = Math.max(state.maxTime, point.ts);
  const times = state.times.slice();
  const values = state.values.slice();
  const sorted = state.sorted.slice();
  const evictOldest = (): void => {
    times.shift();
    sorted.splice(lowerBound(sorted, values.shift() ?? 0), 1);
  };
  if (params.baselineMs !== null) {
    // Oldest first by arrival; a late point leaves with its neighbours, close enough for a baseline.
    while (times.length > 0 && (times[0] ?? 0) < maxTime - params.baselineMs) evictOldest();
  }

  let z: number | null = null;
  let baseline: SpikeBaselineResult['baseline'] = null;
  if (values.length >= params.minHistory) {
    const median = sortedMedian(sorted);
    const sigma = Math.max(robustSigma(sorted, median), params.absFloor, params.relFloor * Math.abs(median));
    baseline = { median, sigma };
    z = deviationInSigma(point.value, median, sigma, params.direction);
  }

  const window = params.recordPoints;
  const record = state.record.filter((r) => r.at >= state.scored - window);
  const bar = Math.max(params.alertZ, record[0]?.z ?? 0);
  const raw = z === null ? 0 : z === Number.POSITIVE_INFINITY ? (bar === z ? 0.5 : 1) : z / (z + bar);
  const cooling = state.sinceAlert !== null && state.sinceAlert < params.cooldownPoints;
  const score = cooling ? 0 : raw;
  const alert = score >= 0.5;

  let scored = state.scored;
  if (z !== null) {
    if (window > 0) {
      while (record.length > 0 && (record.at(-1)?.z ?? 0) <= z) record.pop();
      record.push({ at: scored, z });
    }
    scored += 1;
  }
  while (values.length >= params.baselinePoints) evictOldest();
  times.push(point.ts);
  values.push(point.value);
  sorted.splice(lowerBound(sorted, point.value), 0, point.value);
  const sinceAlert = alert ? 0 : state.sinceAlert === null ? null : state.sinceAlert + 1;
  return { state: { times, values, sorted, maxTime, scored, record, sinceAlert }, score, z, bar, baseline, alert };
}

/** Scores a whole series in order: each point sees only the points before it. */
export function spikeBaselineScores(points: readonly SpikeBaselinePoint[], params: SpikeBaselineParams): number[] {
  let state = initialSpikeBaselineState();
  return points.map((p) => {
    const r = spikeBaselineStep(state, p, params);
    state = r.state;
    return r.score;
  });
}
