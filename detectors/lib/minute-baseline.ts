import { quantileSorted } from 'simple-statistics';
import type { BucketWindow } from '../../src/windows/bucket-window.ts';
import { MAD_TO_SIGMA, type RobustStats } from '../../src/windows/robust.ts';

/** What a cohort did in one minute. */
export interface MinuteTotals {
  spend_usd: number;
  llm_calls: number;
}

export const ZERO_MINUTE: MinuteTotals = Object.freeze({ spend_usd: 0, llm_calls: 0 });

export const addMinutes = (a: MinuteTotals, b: MinuteTotals): MinuteTotals => ({
  spend_usd: a.spend_usd + b.spend_usd,
  llm_calls: a.llm_calls + b.llm_calls,
});

/**
 * The upper envelope of ordinary minutes: the 90th percentile of the baseline's busy minutes. It
 * sees the right tail that median/MAD ignore (minutes skewed by a few expensive runs, runs that
 * straddle minutes) and still resists outliers: six spiking minutes out of sixty barely move it.
 */
export const UPPER_QUANTILE = 0.9;

/** Robust summary of one series (per-minute values, or sums over a few minutes). */
export interface SeriesStats extends RobustStats {
  /** UPPER_QUANTILE of the series' non-zero values (0 if none). */
  upper: number;
}

/** Robust baseline of a cohort's spend and LLM calls over its trailing window. */
export interface MinuteBaseline {
  /** The minute this baseline is for (it covers the minutes before it). */
  for_minute: number;
  /** Minutes of history it covers (≤ the baseline window). */
  minutes: number;
  /** Per-minute spend (usd). */
  spend: SeriesStats;
  /** Spend over every run of `span` consecutive minutes (usd): the sustained rule's yardstick. */
  spend_sums: SeriesStats;
  span: number;
  /** Per-minute LLM calls. */
  calls: SeriesStats;
}

/**
 * Per-minute totals for minutes [from, to], with 0 for a minute without partials: a quiet minute
 * is a real observation of zero spend, and leaving it out would bias the baseline upwards.
 */
export function zeroFilled(w: BucketWindow<MinuteTotals>, from: number, to: number): MinuteTotals[] {
  const out: MinuteTotals[] = [];
  if (to < from) return out;
  // One walk over the closed buckets (strictly increasing indexes), then the open one.
  const closed = w.closed;
  let i = 0;
  while (i < closed.length && (closed[i] as (typeof closed)[number]).index < from) i++;
  for (let m = from; m <= to; m++) {
    const b = closed[i];
    if (b !== undefined && b.index === m) {
      out.push(b.value);
      i++;
    } else out.push(w.open !== null && w.open.index === m ? w.open.value : ZERO_MINUTE);
  }
  return out;
}

/**
 * `start` plus the spend (usd) of minutes [from, to], oldest first (the order zeroFilled gives, so
 * the float sum is the same). Scans back from the newest bucket only as far as `from`: O(to − from)
 * for a recent range, which is what the per-partial sustained check asks for.
 */
export function spendBetween(w: BucketWindow<MinuteTotals>, from: number, to: number, start = 0): number {
  let i = w.closed.length;
  while (i > 0 && (w.closed[i - 1]?.index ?? -Infinity) >= from) i--;
  let sum = start;
  for (; i < w.closed.length; i++) {
    const b = w.closed[i] as (typeof w.closed)[number];
    if (b.index > to) break;
    sum += b.value.spend_usd;
  }
  if (w.open !== null && w.open.index >= from && w.open.index <= to) sum += w.open.value.spend_usd;
  return sum;
}

/**
 * Median/MAD of all values; the upper envelope of the non-zero ones. For a dense cohort the two
 * p90s agree; for a sporadic one (mostly empty minutes) the p90 of all minutes would be 0 and say
 * nothing about how big its ordinary busy minutes are, which is what a spike must dwarf.
 *
 * The figures of robustStats() and simple-statistics' quantile(), bit for bit (the same order
 * statistics, read by the same quantileSorted), from one sort of the values and one of the
 * deviations instead of a copy and a quickselect per statistic: this runs once per cohort per
 * minute for three series, the cohort stage's largest cost.
 */
function seriesStats(values: readonly number[]): SeriesStats {
  const n = values.length;
  if (n === 0) return { n: 0, location: 0, scale: 0, upper: 0 };
  const sorted = Float64Array.from(values).sort();
  const location = +quantileSorted(sorted as unknown as number[], 0.5);
  const deviations = new Float64Array(n);
  for (let i = 0; i < n; i++) deviations[i] = Math.abs((sorted[i] as number) - location);
  deviations.sort();
  let firstBusy = 0;
  while (firstBusy < n && !((sorted[firstBusy] as number) > 0)) firstBusy++;
  const busy = sorted.subarray(firstBusy);
  return {
    n,
    location,
    scale: MAD_TO_SIGMA * +quantileSorted(deviations as unknown as number[], 0.5),
    upper: busy.length === 0 ? 0 : quantileSorted(busy as unknown as number[], UPPER_QUANTILE),
  };
}

/** Sums over every `span` consecutive values (a sliding window), or the whole sum if shorter. */
function slidingSums(values: readonly number[], span: number): number[] {
  if (values.length <= span) return values.length === 0 ? [] : [values.reduce((a, b) => a + b, 0)];
  const out: number[] = [];
  let acc = 0;
  values.forEach((v, i) => {
    acc += v - (i >= span ? (values[i - span] ?? 0) : 0);
    if (i >= span - 1) out.push(acc);
  });
  return out;
}

/** Minute ranges (inclusive) left out of a baseline: the minutes of alarms already raised. */
export type Quarantine = readonly { from: number; to: number }[];

/**
 * Robust statistics of the `baselineMinutes` minutes before `minute` (those since the cohort's
 * first minute only, quarantined minutes left out). Computed once per minute per cohort, when the
 * minute opens: O(w log w).
 */
export function minuteBaseline(
  w: BucketWindow<MinuteTotals>,
  firstMinute: number,
  minute: number,
  baselineMinutes: number,
  span: number,
  quarantine: Quarantine = [],
): MinuteBaseline {
  const from = Math.max(firstMinute, minute - baselineMinutes);
  const values = zeroFilled(w, from, minute - 1).filter((_, i) => !quarantine.some((q) => from + i >= q.from && from + i <= q.to));
  const spend = values.map((v) => v.spend_usd);
  return {
    for_minute: minute,
    minutes: values.length,
    spend: seriesStats(spend),
    spend_sums: seriesStats(slidingSums(spend, span)),
    span,
    calls: seriesStats(values.map((v) => v.llm_calls)),
  };
}
