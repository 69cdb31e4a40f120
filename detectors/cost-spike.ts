import { z } from 'zod';
import type { Throttle } from '../src/contracts/control.ts';
import type { Finding } from '../src/contracts/finding.ts';
import { flag, positiveAmount, positiveInt, strictSection, type SectionIssue } from '../src/policy/fields.ts';
import { bucketIndex, createWindow, windowAdd, windowRange, type BucketWindow } from '../src/windows/bucket-window.ts';
import { MINUTE_MS, type CohortPartial, type CohortView } from '../src/windows/cohort-partial.ts';
import type { CohortDims } from '../src/windows/cohort-key.ts';
import { emptySketch, mergeSketches, sketchCount, sketchQuantile, type SketchData } from '../src/windows/quantile-sketch.ts';
import { cohortFinding } from './lib/cohort-finding.ts';
import type { DetectorResult } from './lib/detector-result.ts';
import { addMinutes, minuteBaseline, spendBetween, zeroFilled, type MinuteBaseline, type MinuteTotals } from './lib/minute-baseline.ts';

const atLeast = (min: number, what: string) => z.number({ error: `must be a number ≥ ${min} (${what})` }).min(min, `must be ≥ ${min} (${what})`);
const intIn = (min: number, max: number) =>
  z.number({ error: `must be an integer from ${min} to ${max}` }).int(`must be an integer from ${min} to ${max}`).min(min, `must be at least ${min}`).max(max, `must be at most ${max}`);

/**
 * Policy section `cost_spike` (SPEC §3.3). Flat, like the other sections, so an override can set
 * any one field. Robust σ = 1.4826 × MAD of the per-minute values of the baseline window.
 */
export const costSpikeParamsSchema = strictSection({
  enabled: flag(),
  /** Trailing baseline window (minutes, zero-spend minutes included). */
  baseline_minutes: intIn(10, 1440),
  /** No spend rule fires before the cohort has this many minutes of history. */
  min_history_minutes: intIn(1, 1440),
  /** Absolute floor (usd per minute): below it nothing fires, whatever the baseline. */
  min_spend_usd_per_minute: positiveAmount('usd per minute'),
  /** Sharp spike: the running minute above median + spike_k × σ … */
  spike_k: positiveAmount('robust σ'),
  /** … and above spike_min_ratio × median. */
  spike_min_ratio: atLeast(1, 'times the median'),
  /** Sustained rise: the last N minutes (running one included) together above … */
  sustained_minutes: intIn(2, 30),
  /** … N × median + sustained_k × √N × σ … */
  sustained_k: positiveAmount('robust σ'),
  /** … and N × sustained_min_ratio × median. */
  sustained_min_ratio: atLeast(1, 'times the median'),
  /** σ is at least this share of the median, so a very regular cohort does not fire on a small rise. */
  scale_floor_ratio: z.number({ error: 'must be a number from 0 to 10' }).min(0, 'must be ≥ 0').max(10, 'must be ≤ 10'),
  /** An episode ends after `rearm_minutes` closed minutes at or below median + rearm_k × σ. */
  rearm_k: positiveAmount('robust σ'),
  rearm_minutes: intIn(1, 60),
  /** Throttle to headroom × the cohort's median LLM calls per minute … */
  throttle_headroom: atLeast(1, 'times the median'),
  /** … but never below this many calls per minute. */
  throttle_min_llm_calls_per_minute: positiveInt(),
  /** Delay per step in the throttle (ms); 0 = none. */
  throttle_delay_ms: z.number({ error: 'must be a number of ms ≥ 0' }).int('must be an integer (ms)').min(0, 'must be ≥ 0'),
  /** A user's LLM calls in the running minute above multiplier × its baseline → throttle. */
  user_rate_enabled: flag(),
  user_rate_multiplier: z.number({ error: 'must be a number > 1' }).gt(1, 'must be greater than 1'),
  /** Absolute floor (calls per minute) for the user rule. */
  user_rate_min_llm_calls_per_minute: positiveInt(),
  /** The user's baseline is at least this many calls per minute (a new or quiet user). */
  user_rate_baseline_floor: positiveAmount('LLM calls per minute'),
  /** A run's tokens above the agent's rolling quantile of completed runs → warn. */
  run_tokens_enabled: flag(),
  run_tokens_quantile: z.number({ error: 'must be a number from 0.5 to 0.9999' }).min(0.5, 'must be at least 0.5').max(0.9999, 'must be at most 0.9999'),
  run_tokens_window_minutes: intIn(60, 43_200),
  /** Width of one bucket of the run-tokens window; the quantile is refreshed when one closes. */
  run_tokens_bucket_minutes: intIn(1, 1440),
  /** Completed runs needed in the window before the rule fires (a p99 of 20 runs is noise). */
  run_tokens_min_runs: positiveInt(),
});
export type CostSpikeParams = z.infer<typeof costSpikeParamsSchema>;

export const COST_SPIKE_DEFAULTS: CostSpikeParams = {
  enabled: true,
  baseline_minutes: 60,
  min_history_minutes: 15,
  min_spend_usd_per_minute: 1,
  spike_k: 6,
  spike_min_ratio: 3,
  sustained_minutes: 3,
  sustained_k: 6,
  sustained_min_ratio: 2.5,
  scale_floor_ratio: 0.25,
  rearm_k: 3,
  rearm_minutes: 3,
  throttle_headroom: 2,
  throttle_min_llm_calls_per_minute: 10,
  throttle_delay_ms: 0,
  user_rate_enabled: true,
  user_rate_multiplier: 5,
  user_rate_min_llm_calls_per_minute: 30,
  user_rate_baseline_floor: 2,
  run_tokens_enabled: true,
  run_tokens_quantile: 0.99,
  run_tokens_window_minutes: 1440,
  run_tokens_bucket_minutes: 60,
  run_tokens_min_runs: 200,
};

/** Cross-field problems: `path` is the field to change, `fields` every field involved. */
export function costSpikeParamIssues(p: CostSpikeParams): SectionIssue<keyof CostSpikeParams>[] {
  const issues: SectionIssue<keyof CostSpikeParams>[] = [];
  if (p.min_history_minutes > p.baseline_minutes) {
    issues.push({
      path: 'min_history_minutes',
      fields: ['min_history_minutes', 'baseline_minutes'],
      message: `must be at most baseline_minutes (${p.baseline_minutes}): lower it or raise baseline_minutes; got ${p.min_history_minutes}`,
    });
  }
  if (p.run_tokens_window_minutes % p.run_tokens_bucket_minutes !== 0) {
    issues.push({
      path: 'run_tokens_bucket_minutes',
      fields: ['run_tokens_bucket_minutes', 'run_tokens_window_minutes'],
      message: `must divide run_tokens_window_minutes (${p.run_tokens_window_minutes}) evenly; got ${p.run_tokens_bucket_minutes}`,
    });
  }
  return issues;
}

export const COST_SPIKE_RULES = ['spend_spike', 'spend_sustained', 'llm_rate', 'run_tokens_p99'] as const;
export type CostSpikeRule = (typeof COST_SPIKE_RULES)[number];

/** An alarm in progress: one finding per episode; the rule re-arms once the cohort is calm. */
export interface Episode {
  rule: CostSpikeRule;
  start_minute: number;
  /** Consecutive closed minutes back to normal. */
  calm_minutes: number;
}

/** The run-tokens quantile of an agent, refreshed when a bucket closes. */
export interface TokenQuantile {
  /** Tokens at `run_tokens_quantile` of the completed runs in the window. */
  value: number;
  runs: number;
}

/** State of one (view, cohort) at the cohort stage: plain JSON, checkpointed as it is. */
export interface CostSpikeState {
  view: CohortView;
  cohort: CohortDims;
  first_minute: number | null;
  /** Per-minute totals; open bucket = the running minute. Horizon = baseline + running minute. */
  minutes: BucketWindow<MinuteTotals>;
  /** Baseline of the minutes before the running one (null until the first partial). */
  baseline: MinuteBaseline | null;
  episode: Episode | null;
  /**
   * Minutes of past episodes (within the baseline window), left out of the baseline so that an
   * alarm does not raise the bar for the next one. Capped per episode: see `quarantineOf`.
   */
  quarantine: { from: number; to: number }[];
  /** `agent` view: token totals of completed runs, by bucket. */
  run_tokens: BucketWindow<SketchData>;
  token_quantile: TokenQuantile | null;
  /** `agent` view: runs already warned (at most one finding per run), oldest first. */
  warned_runs: { run_id: string; minute: number }[];
}

/** Bound on `warned_runs` (older entries are dropped first). */
export const MAX_WARNED_RUNS = 1000;

export function initialCostSpikeState(view: CohortView, cohort: CohortDims, params: CostSpikeParams): CostSpikeState {
  return {
    view,
    cohort: { ...cohort },
    first_minute: null,
    minutes: createWindow<MinuteTotals>(MINUTE_MS, params.baseline_minutes + 1),
    baseline: null,
    episode: null,
    quarantine: [],
    run_tokens: createWindow<SketchData>(params.run_tokens_bucket_minutes * MINUTE_MS, params.run_tokens_window_minutes / params.run_tokens_bucket_minutes + 1),
    token_quantile: null,
    warned_runs: [],
  };
}

/**
 * A state with some fields replaced, every field named, in the order of initialCostSpikeState (so
 * its JSON is the same as a spread's): one object shape for every state, built without the
 * spread's property-by-property copy — it ran for every partial (bench/core-ratio.ts profile).
 */
function stateWith(
  s: CostSpikeState,
  first_minute: CostSpikeState['first_minute'],
  minutes: CostSpikeState['minutes'],
  baseline: CostSpikeState['baseline'],
  episode: CostSpikeState['episode'],
  quarantine: CostSpikeState['quarantine'],
  run_tokens: CostSpikeState['run_tokens'],
  token_quantile: CostSpikeState['token_quantile'],
  warned_runs: CostSpikeState['warned_runs'],
): CostSpikeState {
  return { view: s.view, cohort: s.cohort, first_minute, minutes, baseline, episode, quarantine, run_tokens, token_quantile, warned_runs };
}

export interface CostSpikeContext {
  params: CostSpikeParams;
  /** Event time (ms) of the latest event in the partial (its `last_ts`). */
  now: number;
}

/**
 * Cost-spike detector (SPEC §3.3) at the cohort stage, one state per (view, cohort), fed the
 * cohort's partials (deltas; the running minute is their merge):
 * - view `spend`: `spend_spike` when the running minute's spend exceeds
 *   max(median + spike_k·σ, spike_min_ratio·median, floor), and `spend_sustained` when the last
 *   sustained_minutes minutes together exceed max(N·median + sustained_k·√N·σ, N·ratio·median,
 *   N·floor) — median and σ (1.4826·MAD, at least scale_floor_ratio·median) of the trailing
 *   baseline minutes, zero-spend minutes included. Checked on every partial, so a spike is caught
 *   while its minute is still running. Action: throttle the cohort's LLM calls per minute.
 * - view `user`: `llm_rate` when the running minute's LLM calls exceed
 *   max(multiplier × max(median, baseline floor), floor). Action: throttle.
 * - view `agent`: `run_tokens_p99` (warn, run scope) when a run's running token total exceeds the
 *   rolling quantile of the agent's completed runs.
 * A cohort rule fires once per episode; the episode ends after `rearm_minutes` calm closed
 * minutes. A late partial (an earlier minute within the window) feeds the baseline and may fire a
 * spike of its own minute (see below); it never fires the sustained rule.
 */
export function costSpike(state: CostSpikeState, partial: CohortPartial, ctx: CostSpikeContext): DetectorResult<CostSpikeState> {
  const p = ctx.params;
  if (!p.enabled || partial.view !== state.view || partial.view === 'judge') return { state, findings: [] };
  if (partial.view === 'agent') return runTokens(state, partial, ctx);
  if (partial.view === 'user' && !p.user_rate_enabled) return { state, findings: [] };

  const openBefore = state.minutes.open?.index ?? null;
  let episode = state.episode;
  let baseline = state.baseline;
  let quarantine = state.quarantine;
  // A new minute: judge the minutes that just closed (for re-arming) against the baseline that
  // applied to them, then compute the baseline of the new minute.
  if (openBefore !== null && partial.minute > openBefore && baseline !== null && episode !== null) {
    const closed = zeroFilled(state.minutes, openBefore, Math.min(partial.minute - 1, openBefore + p.rearm_minutes));
    for (const [i, m] of closed.entries()) {
      if (episode === null) break;
      const calm = valueOf(state.view, m) <= normalLevel(state.view, baseline, p);
      const calmMinutes: number = calm ? episode.calm_minutes + 1 : 0;
      if (calmMinutes >= p.rearm_minutes) {
        // Over: its minutes up to the last one that was not calm stay out of the baseline.
        quarantine = [...quarantine, quarantineOf(episode, openBefore + i - calmMinutes, p)];
        episode = null;
      } else episode = { ...episode, calm_minutes: calmMinutes };
    }
  }
  const totals: MinuteTotals = { spend_usd: partial.spend_usd, llm_calls: partial.llm_calls };
  const added = windowAdd(state.minutes, partial.last_ts, totals, addMinutes);
  if (added.placed === 'dropped') return { state, findings: [] };
  const firstMinute = Math.min(state.first_minute ?? partial.minute, partial.minute);
  if (added.placed === 'rolled') {
    quarantine = quarantine.filter((q) => q.to >= partial.minute - p.baseline_minutes);
    const excluded = episode === null ? quarantine : [...quarantine, quarantineOf(episode, partial.minute - 1, p)];
    baseline = minuteBaseline(added.window, firstMinute, partial.minute, p.baseline_minutes, p.sustained_minutes, excluded);
  }
  const next = stateWith(state, firstMinute, added.window, baseline, episode, quarantine, state.run_tokens, state.token_quantile, state.warned_runs);
  if (baseline === null || episode !== null || baseline.minutes < p.min_history_minutes) return { state: next, findings: [] };

  // A late partial (an earlier minute, still in the window) may complete that minute's spike: the
  // per-run stage's partitions (and processes) progress unevenly, most after a crash or rebalance,
  // so the partials of one minute can arrive after the next minute opened. The minute is judged
  // by its total against the current baseline, as a spike (the sustained rule is about the
  // running minute). In order (replay) no partial is late, so replay's findings are unchanged;
  // the finding's episode is the late minute, so its id is the one replay gives it.
  const late = added.placed === 'late';
  // A late minute that an episode already covers (it fired, then re-armed on minutes that looked
  // calm while their partials were still on their way) must not fire again: its finding id is that
  // episode's, and one id carries one content.
  if (late && quarantine.some((q) => q.from <= partial.minute && partial.minute <= q.to)) return { state: next, findings: [] };
  const running = late ? (added.window.closed.find((b) => b.index === partial.minute)?.value ?? totals) : (added.window.open?.value ?? totals);
  const hit = state.view === 'spend' ? spendHit(next, running, baseline, p) : rateHit(running, baseline, p);
  if (hit === null || (late && hit.rule === 'spend_sustained')) return { state: next, findings: [] };
  const finding = cohortFinding({
    detector: 'cost-spike',
    rule: hit.rule,
    severity: 'critical',
    ts: partial.last_ts,
    cohort: state.cohort,
    episode: partial.minute,
    observed: hit.observed,
    threshold: hit.threshold,
    baseline: hit.baseline,
    throttle: throttleFor(baseline, p),
    details: {
      view: state.view,
      minute_start_ms: partial.minute * MINUTE_MS,
      ...hit.details,
      baseline_minutes: baseline.minutes,
      median_spend_usd_per_minute: baseline.spend.location,
      sigma_spend_usd_per_minute: baseline.spend.scale,
      median_llm_calls_per_minute: baseline.calls.location,
      running_minute: { spend_usd: running.spend_usd, llm_calls: running.llm_calls },
    },
  });
  return { state: { ...next, episode: { rule: hit.rule, start_minute: partial.minute, calm_minutes: 0 } }, findings: [finding] };
}

interface Hit {
  rule: CostSpikeRule;
  observed: number;
  threshold: number;
  baseline: number;
  details: Record<string, unknown>;
}

/**
 * The minutes of an episode kept out of the baseline: from its start to `last`, but at most half
 * the baseline window — a level that lasts that long is the new normal, and the baseline must be
 * allowed to learn it (or the episode would never end).
 */
function quarantineOf(e: Episode, last: number, p: CostSpikeParams): { from: number; to: number } {
  return { from: e.start_minute, to: Math.min(last, e.start_minute + Math.floor(p.baseline_minutes / 2) - 1) };
}

const valueOf = (view: CohortView, m: MinuteTotals): number => (view === 'spend' ? m.spend_usd : m.llm_calls);

/** σ with its floor: a share of the median, so a perfectly regular cohort is not hair-triggered. */
const sigma = (stats: { location: number; scale: number }, p: CostSpikeParams): number => Math.max(stats.scale, p.scale_floor_ratio * stats.location);

/** A closed minute at or below this is "back to normal" for re-arming. */
function normalLevel(view: CohortView, b: MinuteBaseline, p: CostSpikeParams): number {
  const stats = view === 'spend' ? b.spend : b.calls;
  return stats.location + p.rearm_k * sigma(stats, p);
}

function spendHit(s: CostSpikeState, running: MinuteTotals, b: MinuteBaseline, p: CostSpikeParams): Hit | null {
  const median = b.spend.location;
  const x = running.spend_usd;
  // The ratio is to the upper envelope of ordinary busy minutes (p90), so neither a skewed cohort
  // nor a sporadic one (median 0, MAD 0) fires on an ordinary minute.
  const spikeAt = Math.max(median + p.spike_k * sigma(b.spend, p), p.spike_min_ratio * b.spend.upper, p.min_spend_usd_per_minute);
  if (x > spikeAt) {
    return { rule: 'spend_spike', observed: x, threshold: spikeAt, baseline: median, details: { unit: 'usd_per_minute', p90_spend_usd_per_minute: b.spend.upper } };
  }
  // Sustained: the last `span` minutes (running one included) against the baseline's own
  // `span`-minute sums, whose spread already includes runs that straddle minutes.
  const n = b.span;
  const current = b.for_minute;
  const sum = spendBetween(s.minutes, Math.max(s.first_minute ?? current, current - n + 1), current - 1, x);
  const sums = b.spend_sums;
  const sustainedAt = Math.max(sums.location + p.sustained_k * sigma(sums, p), p.sustained_min_ratio * sums.upper, n * p.min_spend_usd_per_minute);
  if (sum > sustainedAt) {
    return { rule: 'spend_sustained', observed: sum, threshold: sustainedAt, baseline: sums.location, details: { unit: 'usd', window_minutes: n, p90_window_spend_usd: sums.upper } };
  }
  return null;
}

function rateHit(running: MinuteTotals, b: MinuteBaseline, p: CostSpikeParams): Hit | null {
  const base = Math.max(b.calls.location, p.user_rate_baseline_floor);
  const at = Math.max(p.user_rate_multiplier * base, p.user_rate_min_llm_calls_per_minute);
  if (running.llm_calls <= at) return null;
  return { rule: 'llm_rate', observed: running.llm_calls, threshold: at, baseline: base, details: { unit: 'llm_calls_per_minute', multiplier: p.user_rate_multiplier } };
}

function throttleFor(b: MinuteBaseline, p: CostSpikeParams): Throttle {
  const t: Throttle = {
    max_llm_calls_per_minute: Math.max(p.throttle_min_llm_calls_per_minute, Math.ceil(p.throttle_headroom * b.calls.location)),
  };
  if (p.throttle_delay_ms > 0) t.delay_ms = p.throttle_delay_ms;
  return t;
}

/** `agent` view: fold completed runs into the window; warn on runs above the rolling quantile. */
function runTokens(state: CostSpikeState, partial: CohortPartial, ctx: CostSpikeContext): DetectorResult<CostSpikeState> {
  const p = ctx.params;
  if (!p.run_tokens_enabled) return { state, findings: [] };
  let window = state.run_tokens;
  let quantile = state.token_quantile;
  const bucket = bucketIndex(window, partial.last_ts);
  const openBefore = window.open?.index ?? null;
  if (sketchCount(partial.run_tokens) > 0 || openBefore === null || bucket > openBefore) {
    const added = windowAdd(window, partial.last_ts, partial.run_tokens, mergeSketches);
    window = added.window;
    // The quantile covers closed buckets only, so it moves once per bucket (hourly by default).
    if (added.placed === 'rolled') quantile = closedQuantile(window, p);
  }
  const minute = partial.minute;
  const oldest = minute - p.run_tokens_window_minutes;
  let warned = state.warned_runs.filter((w) => w.minute >= oldest);
  const findings: Finding[] = [];
  if (quantile !== null && quantile.runs >= p.run_tokens_min_runs) {
    for (const run of partial.top_runs) {
      if (run.tokens <= quantile.value || warned.some((w) => w.run_id === run.run_id)) continue;
      warned = [...warned, { run_id: run.run_id, minute }].slice(-MAX_WARNED_RUNS);
      findings.push(
        cohortFinding({
          detector: 'cost-spike',
          rule: 'run_tokens_p99',
          severity: 'warning',
          ts: partial.last_ts,
          cohort: state.cohort,
          episode: run.run_id,
          scope: { kind: 'run', id: run.run_id },
          observed: run.tokens,
          threshold: quantile.value,
          action: 'warn',
          details: { unit: 'tokens', run_id: run.run_id, quantile: p.run_tokens_quantile, completed_runs: quantile.runs, window_minutes: p.run_tokens_window_minutes },
        }),
      );
    }
  }
  const changed = window !== state.run_tokens || quantile !== state.token_quantile || warned.length !== state.warned_runs.length || findings.length > 0;
  return { state: changed ? stateWith(state, state.first_minute, state.minutes, state.baseline, state.episode, state.quarantine, window, quantile, warned) : state, findings };
}

function closedQuantile(w: BucketWindow<SketchData>, p: CostSpikeParams): TokenQuantile | null {
  const open = w.open?.index;
  if (open === undefined) return null;
  let merged = emptySketch();
  for (const b of windowRange(w, open - w.horizon + 1, open - 1)) merged = mergeSketches(merged, b.value);
  const runs = sketchCount(merged);
  return runs === 0 ? null : { value: sketchQuantile(merged, p.run_tokens_quantile), runs };
}

/**
 * True when the cohort stage may drop this state: no partial for longer than every window it
 * keeps (baseline, run-tokens window) and no episode open. Dropping it loses nothing a new
 * partial would need. `minute` is the stage's event-time minute.
 */
export function costSpikeStateIdle(state: CostSpikeState, minute: number, params: CostSpikeParams): boolean {
  const last = Math.max(state.minutes.open?.index ?? -Infinity, (state.run_tokens.open?.index ?? -Infinity) * params.run_tokens_bucket_minutes);
  const keep = state.view === 'agent' ? params.run_tokens_window_minutes : params.baseline_minutes;
  return state.episode === null && minute - last > keep;
}
