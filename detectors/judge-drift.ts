import { z } from 'zod';
import type { Throttle } from '../src/contracts/control.ts';
import type { Finding } from '../src/contracts/finding.ts';
import { cohortDimensions, flag, positiveInt, ratio, strictSection, type SectionIssue } from '../src/policy/fields.ts';
import { bucketIndex, createWindow, windowAdd, windowFold, type BucketWindow } from '../src/windows/bucket-window.ts';
import { cohortKey, pickDims, withoutDims, type CohortDims } from '../src/windows/cohort-key.ts';
import { MINUTE_MS, type CohortPartial } from '../src/windows/cohort-partial.ts';
import { EMPTY_SUMMARY, mergeSummaries, type Summary } from '../src/windows/summary.ts';
import { welchLowerTest, type WelchResult } from '../src/windows/welch.ts';
import { cohortFinding } from './lib/cohort-finding.ts';
import type { DetectorResult } from './lib/detector-result.ts';
import { bonferroniLevel } from './lib/multiple-testing.ts';

const minutes = (min: number, max: number) =>
  z.number({ error: `must be a whole number of minutes from ${min} to ${max}` }).int('must be a whole number of minutes').min(min, `must be at least ${min}`).max(max, `must be at most ${max}`);

/** Policy section `judge_drift` (SPEC §3.4). Durations in minutes. */
export const judgeDriftParamsSchema = strictSection({
  enabled: flag(),
  /** Dimensions that name a version of a cohort; the rest name its lineage (agent, segment). */
  version_dims: cohortDimensions(1),
  /** Width of one score bucket. */
  bucket_minutes: minutes(1, 1440),
  /** The recent window, compared with the reference before it (`recent_drop`) and with the anchor (`decline`). */
  recent_minutes: minutes(1, 43_200),
  /** The sliding reference window just before the recent one; also the predecessor's reference. */
  reference_minutes: minutes(1, 43_200),
  /** A version's first minutes: its frozen reference for slow declines. */
  anchor_minutes: minutes(1, 43_200),
  /** Tests run at most this often per lineage (event time). */
  evaluate_every_minutes: minutes(1, 1440),
  /** Scores needed on each side of a test. */
  min_samples: z.number().int('must be an integer').min(2, 'must be at least 2'),
  /** Effect-size floors: the mean must drop by at least this (score units) … */
  min_drop: ratio(),
  /** … and by at least this many pooled standard deviations (Cohen's d). */
  min_cohens_d: z.number({ error: 'must be a number ≥ 0' }).min(0, 'must be ≥ 0'),
  /** Family-wise false-alarm level of one evaluation round across the whole fleet. */
  alpha: ratio(),
  /** Cohort versions tested at once across the fleet (segments included): the Bonferroni family. */
  family_size: positiveInt(),
  /** A new version is compared with the most recent other version seen within this many minutes. */
  predecessor_max_gap_minutes: minutes(1, 43_200),
  /** Versions remembered per lineage (least recently seen dropped first). */
  max_versions: z.number().int().min(2, 'must be at least 2').max(64, 'must be at most 64'),
  /** Throttle a new version (canary) whose scores dropped against its predecessor. */
  canary_throttle: flag(),
  canary_max_llm_calls_per_minute: positiveInt(),
  canary_delay_ms: z.number().int('must be an integer (ms)').min(0, 'must be ≥ 0'),
});
export type JudgeDriftParams = z.infer<typeof judgeDriftParamsSchema>;

export const JUDGE_DRIFT_DEFAULTS: JudgeDriftParams = {
  enabled: true,
  version_dims: ['model_version', 'prompt_hash'],
  bucket_minutes: 60,
  recent_minutes: 360,
  reference_minutes: 10_080,
  anchor_minutes: 4320,
  evaluate_every_minutes: 15,
  min_samples: 30,
  min_drop: 0.02,
  min_cohens_d: 0.1,
  alpha: 0.05,
  family_size: 100,
  predecessor_max_gap_minutes: 1440,
  max_versions: 8,
  canary_throttle: false,
  canary_max_llm_calls_per_minute: 10,
  canary_delay_ms: 0,
};

/** Cross-field problems: `path` is the field to change, `fields` every field involved. */
export function judgeDriftParamIssues(p: JudgeDriftParams): SectionIssue<keyof JudgeDriftParams>[] {
  const issues: SectionIssue<keyof JudgeDriftParams>[] = [];
  for (const key of ['recent_minutes', 'reference_minutes', 'anchor_minutes'] as const) {
    if (p[key] % p.bucket_minutes !== 0) {
      issues.push({ path: key, fields: [key, 'bucket_minutes'], message: `must be a multiple of bucket_minutes (${p.bucket_minutes}); got ${p[key]}` });
    }
  }
  return issues;
}

/**
 * - `version_drop`: a version's scores against the version it replaced (abrupt drop on a model or
 *   prompt change);
 * - `recent_drop`: the recent window against the reference window just before it;
 * - `decline`: the recent window against the version's own first days (slow degradation).
 */
export const JUDGE_DRIFT_RULES = ['version_drop', 'recent_drop', 'decline'] as const;
export type JudgeDriftRule = (typeof JUDGE_DRIFT_RULES)[number];

export interface VersionState {
  /** Canonical id of the version dimensions, e.g. `model_version=v2,prompt_hash=abc`. */
  key: string;
  /** Every dimension of the cohort (lineage + version). */
  cohort: CohortDims;
  first_minute: number;
  last_minute: number;
  buckets: BucketWindow<Summary>;
  /** Scores of the version's first `anchor_minutes`. */
  anchor: Summary;
  /** The version it replaced, with that version's reference scores frozen when this one appeared. */
  predecessor: { key: string; reference: Summary } | null;
  /** Rules in an episode (fired, not yet back to normal), with the episode's start minute. */
  episodes: { rule: JudgeDriftRule; start_minute: number }[];
}

/** State of one lineage (cohort without its version dimensions): plain JSON. */
export interface JudgeDriftState {
  lineage: CohortDims;
  /** Least recently seen first. */
  versions: VersionState[];
  /** Next minute at which the lineage's tests run. */
  next_eval_minute: number;
}

export const initialJudgeDriftState = (lineage: CohortDims): JudgeDriftState => ({ lineage: { ...lineage }, versions: [], next_eval_minute: 0 });

/** The lineage of a judge cohort: its dimensions without the version ones. The cohort stage keys judge state (and the partials' topic) by it. */
export const judgeLineage = (cohort: CohortDims, p: Pick<JudgeDriftParams, 'version_dims'>): Record<string, string> => withoutDims(cohort, p.version_dims);

export interface JudgeDriftContext {
  params: JudgeDriftParams;
  /** Event time (ms) of the latest event in the partial. */
  now: number;
}

/** One test of one version at one evaluation. */
export interface DriftTest {
  rule: JudgeDriftRule;
  version: string;
  recent: Summary;
  reference: Summary;
  welch: WelchResult;
  /** reference mean − recent mean. */
  drop: number;
  /** Both effect-size floors passed. */
  large: boolean;
}

/** Tests per version per round, for the Bonferroni family. */
const TESTS_PER_VERSION = JUDGE_DRIFT_RULES.length;

/** The per-test level: α split over every (version, rule) tested in a round across the fleet. */
export const perTestAlpha = (p: JudgeDriftParams): number => bonferroniLevel(p.alpha, p.family_size * TESTS_PER_VERSION);

/**
 * Judge-drift detector (SPEC §3.4) at the cohort stage, one state per lineage (agent, or agent ×
 * segment), fed the judge partials of every version of that lineage. Every
 * `evaluate_every_minutes` of event time it runs, for each version, one-sided Welch t-tests of
 * "scores dropped" (`version_drop`, `recent_drop`, `decline`). A test fires when both sides have
 * `min_samples` scores, the drop passes both effect-size floors, and p ≤ alpha / (family_size × 3):
 * Bonferroni over the fleet, so that each lineage decides alone (the cohort stage is
 * partitioned) and the chance of any false alarm in a round stays ≤ alpha. One finding per episode
 * per (version, rule); the episode ends when the scores are back, i.e. the recent mean is no
 * longer below the reference (a drop that merely hovers near the floor stays one episode).
 */
export function judgeDrift(state: JudgeDriftState, partial: CohortPartial, ctx: JudgeDriftContext): DetectorResult<JudgeDriftState> {
  const p = ctx.params;
  if (!p.enabled || partial.view !== 'judge') return { state, findings: [] };
  let versions = ingest(state.versions, partial, p);
  if (partial.minute < state.next_eval_minute) return { state: { ...state, versions }, findings: [] };

  const findings: Finding[] = [];
  versions = versions.map((v) => {
    let episodes = v.episodes;
    for (const test of judgeDriftTests(v, partial.minute, p)) {
      const open = episodes.find((e) => e.rule === test.rule);
      if (open && test.drop <= 0) episodes = episodes.filter((e) => e !== open);
      if (open || !test.large || test.welch.p > perTestAlpha(p)) continue;
      episodes = [...episodes, { rule: test.rule, start_minute: partial.minute }];
      findings.push(driftFinding(v, test, partial, p));
    }
    return episodes === v.episodes ? v : { ...v, episodes };
  });
  const every = p.evaluate_every_minutes;
  return { state: { ...state, versions, next_eval_minute: (Math.floor(partial.minute / every) + 1) * every }, findings };
}

/** Folds a partial's scores into its version, creating the version (and its predecessor link) if new. */
function ingest(versions: readonly VersionState[], partial: CohortPartial, p: JudgeDriftParams): VersionState[] {
  const key = cohortKey(pickDims(partial.cohort, p.version_dims));
  let v = versions.find((x) => x.key === key);
  let rest = versions.filter((x) => x !== v);
  if (!v) {
    v = {
      key,
      cohort: { ...partial.cohort },
      first_minute: partial.minute,
      last_minute: partial.minute,
      buckets: createWindow<Summary>(p.bucket_minutes * MINUTE_MS, (p.recent_minutes + p.reference_minutes) / p.bucket_minutes + 1),
      anchor: EMPTY_SUMMARY,
      predecessor: predecessorOf(rest, partial.minute, p),
      episodes: [],
    };
    rest = rest.slice(Math.max(0, rest.length - (p.max_versions - 1)));
  }
  if (partial.judge.n === 0) return [...rest, v];
  const added = windowAdd(v.buckets, partial.last_ts, partial.judge, mergeSummaries);
  const inAnchor = partial.minute < v.first_minute + p.anchor_minutes && added.placed !== 'dropped';
  const next: VersionState = {
    ...v,
    buckets: added.window,
    last_minute: Math.max(v.last_minute, partial.minute),
    anchor: inAnchor ? mergeSummaries(v.anchor, partial.judge) : v.anchor,
  };
  // Most recently seen last, so the predecessor search and the eviction read the order.
  return [...rest, next];
}

/** The most recently active other version (within the gap), with its reference scores frozen. */
function predecessorOf(others: readonly VersionState[], minute: number, p: JudgeDriftParams): VersionState['predecessor'] {
  const prev = [...others].sort((a, b) => b.last_minute - a.last_minute)[0];
  if (!prev || minute - prev.last_minute > p.predecessor_max_gap_minutes) return null;
  const last = bucketIndex(prev.buckets, prev.last_minute * MINUTE_MS);
  const reference = windowFold(prev.buckets, last - p.reference_minutes / p.bucket_minutes + 1, last, EMPTY_SUMMARY, mergeSummaries);
  return reference.n === 0 ? null : { key: prev.key, reference };
}

/**
 * The tests of one version at `minute` whose both sides have `min_samples` scores (pure; the
 * false-alarm control is applied by the caller, so a stage that batches a round can use
 * Benjamini–Hochberg over every lineage's tests instead; see lib/multiple-testing.ts).
 */
export function judgeDriftTests(v: VersionState, minute: number, p: JudgeDriftParams): DriftTest[] {
  const now = bucketIndex(v.buckets, minute * MINUTE_MS);
  const recentBuckets = p.recent_minutes / p.bucket_minutes;
  const referenceBuckets = p.reference_minutes / p.bucket_minutes;
  const fold = (from: number, to: number) => windowFold(v.buckets, from, to, EMPTY_SUMMARY, mergeSummaries);
  const recent = fold(now - recentBuckets + 1, now);
  const pairs: [JudgeDriftRule, Summary, Summary][] = [];
  if (v.predecessor) pairs.push(['version_drop', fold(now - recentBuckets - referenceBuckets + 1, now), v.predecessor.reference]);
  pairs.push(['recent_drop', recent, fold(now - recentBuckets - referenceBuckets + 1, now - recentBuckets)]);
  // The anchor only once it is complete and the recent window no longer overlaps it.
  const anchorEnd = v.first_minute + p.anchor_minutes;
  if (minute >= anchorEnd && (now - recentBuckets + 1) * p.bucket_minutes >= anchorEnd) pairs.push(['decline', recent, v.anchor]);

  const tests: DriftTest[] = [];
  for (const [rule, r, ref] of pairs) {
    if (r.n < p.min_samples || ref.n < p.min_samples) continue;
    const welch = welchLowerTest(r, ref);
    const drop = -welch.diff;
    tests.push({ rule, version: v.key, recent: r, reference: ref, welch, drop, large: drop >= p.min_drop && welch.cohensD >= p.min_cohens_d });
  }
  return tests;
}

function driftFinding(v: VersionState, test: DriftTest, partial: CohortPartial, p: JudgeDriftParams): Finding {
  const canary = test.rule === 'version_drop' && p.canary_throttle;
  const throttle: Throttle = { max_llm_calls_per_minute: p.canary_max_llm_calls_per_minute };
  if (p.canary_delay_ms > 0) throttle.delay_ms = p.canary_delay_ms;
  return cohortFinding({
    detector: 'judge-drift',
    rule: test.rule,
    severity: 'warning',
    ts: partial.last_ts,
    cohort: v.cohort,
    episode: partial.minute,
    observed: test.recent.mean,
    threshold: test.reference.mean - p.min_drop,
    baseline: test.reference.mean,
    // A finding for operators; a command only when the policy throttles canaries (SPEC §3.4).
    ...(canary ? { throttle } : { action: 'none' as const }),
    details: {
      version: v.key,
      ...(v.predecessor && test.rule === 'version_drop' ? { predecessor: v.predecessor.key } : {}),
      drop: test.drop,
      p_value: test.welch.p,
      alpha_per_test: perTestAlpha(p),
      t: test.welch.t,
      df: test.welch.df,
      cohens_d: test.welch.cohensD,
      n_recent: test.recent.n,
      n_reference: test.reference.n,
      test: 'welch_t_one_sided',
      false_alarm_control: { method: 'bonferroni', alpha: p.alpha, family_size: p.family_size, tests_per_version: TESTS_PER_VERSION },
    },
  });
}

/**
 * True when the cohort stage may drop this lineage's state: no version seen for longer than the
 * windows a test can reach (recent + reference + anchor). `minute` is the stage's event-time minute.
 */
export function judgeDriftStateIdle(state: JudgeDriftState, minute: number, params: JudgeDriftParams): boolean {
  const last = Math.max(-Infinity, ...state.versions.map((v) => v.last_minute));
  return minute - last > params.recent_minutes + params.reference_minutes + params.anchor_minutes;
}
