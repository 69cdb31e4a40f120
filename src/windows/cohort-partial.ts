import { z } from 'zod';
import { amount, boundedId, count, epochMs } from '../contracts/common.ts';
import type { SpanEvent } from '../contracts/span.ts';
import { cohortKey, type CohortDims } from './cohort-key.ts';
import { emptySketch, mergeSketches, sketchDataSchema, sketchOfValue } from './quantile-sketch.ts';
import { addValue, EMPTY_SUMMARY, mergeSummaries, summarySchema } from './summary.ts';

/** Wire version of cohort partials (internal topic, key = the cohort's routing key). */
export const PARTIAL_SCHEMA_VERSION = 'runwarden.partial/v1';

/** Width of the minute a partial covers (ms). */
export const MINUTE_MS = 60_000;

/**
 * What a cohort is for, i.e. which cohort detector reads it: `spend` (cost-spike per cohort,
 * default tenant × agent × user × model), `user` (LLM-call rate per user), `agent` (run tokens
 * against the agent's p99), `judge` (judge-drift, agent × model_version × prompt_hash, or with a
 * segment). Two views may share dimensions; the view keeps their states apart.
 */
export const COHORT_VIEWS = ['spend', 'user', 'agent', 'judge'] as const;
export type CohortView = (typeof COHORT_VIEWS)[number];

/** Largest running token totals of runs carried per partial (for the run-tokens p99 rule). */
export const TOP_RUNS = 8;

const topRunSchema = z.object({ run_id: boundedId(128), tokens: count() });
export type TopRun = z.infer<typeof topRunSchema>;

/**
 * A compact, mergeable summary of the events of one cohort in one event-time minute. A partial is
 * a DELTA: everything one producer saw for (view, cohort, minute) since its previous flush, so a
 * per-run stage may flush as often as it likes (every event in replay, every few seconds in
 * production) and the cohort stage merges every partial of a minute into the running minute —
 * which is how cohort detectors see a spike mid-minute. `merge` is commutative and associative
 * (up to float rounding of sums), so arrival order and the split across producers do not matter.
 */
export const cohortPartialSchema = z
  .object({
    schema: z.literal(PARTIAL_SCHEMA_VERSION),
    view: z.enum(COHORT_VIEWS),
    cohort: z.record(boundedId(128), z.string().max(256)).refine((c) => Object.keys(c).length >= 1 && Object.keys(c).length <= 16, '1 to 16 dimensions'),
    /** Event-time minute: floor(ts / 60 000). */
    minute: count(),
    /** Earliest and latest event time folded in (ms); `last_ts` is the `ts` of findings it triggers. */
    first_ts: epochMs(),
    last_ts: epochMs(),
    events: count(),
    llm_calls: count(),
    /** input + output tokens of the LLM calls. */
    tokens: count(),
    spend_usd: amount(),
    runs_started: count(),
    runs_ended: count(),
    /** Judge scores (0..1). */
    judge: summarySchema,
    /** Token totals of the runs that ended (or were evicted) in this minute. */
    run_tokens: sketchDataSchema,
    /** The largest running token totals of runs active in this minute, largest first. */
    top_runs: z.array(topRunSchema).max(TOP_RUNS),
  })
  .refine((p) => p.first_ts <= p.last_ts && Math.floor(p.first_ts / MINUTE_MS) === p.minute && Math.floor(p.last_ts / MINUTE_MS) === p.minute, {
    message: 'first_ts ≤ last_ts, both within `minute`',
    path: ['minute'],
  });
export type CohortPartial = z.infer<typeof cohortPartialSchema>;

/** The id of a partial's state at the cohort stage: view and canonical cohort id. */
export const partialStateKey = (p: Pick<CohortPartial, 'view' | 'cohort'>): string => `${p.view}|${cohortKey(p.cohort)}`;

/** A partial with nothing in it, for the minute of `ts`. */
export function emptyPartial(view: CohortView, cohort: CohortDims, ts: number): CohortPartial {
  return {
    schema: PARTIAL_SCHEMA_VERSION,
    view,
    cohort: { ...cohort },
    minute: Math.floor(ts / MINUTE_MS),
    first_ts: ts,
    last_ts: ts,
    events: 0,
    llm_calls: 0,
    tokens: 0,
    spend_usd: 0,
    runs_started: 0,
    runs_ended: 0,
    judge: EMPTY_SUMMARY,
    run_tokens: emptySketch(),
    top_runs: [],
  };
}

/** What the per-run stage knows about an event beyond the event itself. */
export interface EventContribution {
  /** Cost of an llm_call (usd), priced when the event had none. */
  costUsd?: number;
  /** The run's input + output tokens so far, after this event (for `top_runs`). */
  runTokens?: number;
  /** Set when the run ended (run_end or eviction): its token total, for the `run_tokens` sketch. */
  endedRunTokens?: number;
}

/** The one-event partial of `event` (a delta to merge into the cohort's running minute). */
export function partialOfEvent(view: CohortView, cohort: CohortDims, event: SpanEvent, c: EventContribution = {}): CohortPartial {
  const p = emptyPartial(view, cohort, event.ts);
  p.events = 1;
  if (event.kind === 'llm_call') {
    p.llm_calls = 1;
    p.tokens = event.llm.input_tokens + event.llm.output_tokens;
    p.spend_usd = c.costUsd ?? event.llm.cost_usd ?? 0;
  }
  if (event.kind === 'run_start') p.runs_started = 1;
  if (event.kind === 'judge_score') p.judge = addValue(EMPTY_SUMMARY, event.judge.score);
  if (c.endedRunTokens !== undefined) {
    p.runs_ended = 1;
    p.run_tokens = sketchOfValue(c.endedRunTokens);
  }
  if (c.runTokens !== undefined) p.top_runs = [{ run_id: event.run_id, tokens: c.runTokens }];
  return p;
}

/** Partials of different cohorts, views or minutes cannot be merged. */
export class PartialMismatchError extends Error {
  override readonly name = 'PartialMismatchError';
}

/** The partial of both deltas. Same view, cohort and minute required. */
export function mergePartials(a: CohortPartial, b: CohortPartial): CohortPartial {
  if (a.view !== b.view || a.minute !== b.minute || cohortKey(a.cohort) !== cohortKey(b.cohort)) {
    throw new PartialMismatchError(`cannot merge partials of ${partialStateKey(a)}@${a.minute} and ${partialStateKey(b)}@${b.minute}`);
  }
  return {
    schema: PARTIAL_SCHEMA_VERSION,
    view: a.view,
    cohort: a.cohort,
    minute: a.minute,
    first_ts: Math.min(a.first_ts, b.first_ts),
    last_ts: Math.max(a.last_ts, b.last_ts),
    events: a.events + b.events,
    llm_calls: a.llm_calls + b.llm_calls,
    tokens: a.tokens + b.tokens,
    spend_usd: a.spend_usd + b.spend_usd,
    runs_started: a.runs_started + b.runs_started,
    runs_ended: a.runs_ended + b.runs_ended,
    judge: mergeSummaries(a.judge, b.judge),
    run_tokens: mergeSketches(a.run_tokens, b.run_tokens),
    top_runs: mergeTopRuns(a.top_runs, b.top_runs),
  };
}

/**
 * Folds `b` into `target` in place: the same result as `mergePartials(target, b)`, field for
 * field and in the same order of float additions, without the allocations. The caller owns
 * `target` (nobody else holds it) and has checked that both are of one view, cohort and minute
 * (the partial buffer's key says so); `b` is left as it was.
 */
export function mergeInto(target: CohortPartial, b: CohortPartial): void {
  if (b.first_ts < target.first_ts) target.first_ts = b.first_ts;
  if (b.last_ts > target.last_ts) target.last_ts = b.last_ts;
  target.events += b.events;
  target.llm_calls += b.llm_calls;
  target.tokens += b.tokens;
  target.spend_usd += b.spend_usd;
  target.runs_started += b.runs_started;
  target.runs_ended += b.runs_ended;
  target.judge = mergeSummaries(target.judge, b.judge);
  target.run_tokens = mergeSketches(target.run_tokens, b.run_tokens);
  if (b.top_runs.length > 0) mergeTopRunsInto(target.top_runs, b.top_runs);
}

/**
 * `mergeTopRuns(list, more)` written into `list` (which the caller owns). The top TOP_RUNS of a
 * union only need the top TOP_RUNS of each side, so folding one list at a time gives the same list.
 */
function mergeTopRunsInto(list: TopRun[], more: readonly TopRun[]): void {
  for (const r of more) {
    const known = list.find((x) => x.run_id === r.run_id);
    if (known === undefined) list.push({ run_id: r.run_id, tokens: r.tokens });
    else if (r.tokens > known.tokens) known.tokens = r.tokens;
  }
  list.sort(byTokensThenRunId);
  if (list.length > TOP_RUNS) list.length = TOP_RUNS;
}

const byTokensThenRunId = (x: TopRun, y: TopRun): number => y.tokens - x.tokens || (x.run_id < y.run_id ? -1 : x.run_id > y.run_id ? 1 : 0);

/**
 * The TOP_RUNS largest runs of both lists, each run at its largest total (running totals only
 * grow). Ties are broken by run_id, so the result does not depend on merge order.
 */
export function mergeTopRuns(a: readonly TopRun[], b: readonly TopRun[]): TopRun[] {
  const best = new Map<string, number>();
  for (const r of [...a, ...b]) best.set(r.run_id, Math.max(best.get(r.run_id) ?? 0, r.tokens));
  return [...best]
    .map(([run_id, tokens]) => ({ run_id, tokens }))
    .sort(byTokensThenRunId)
    .slice(0, TOP_RUNS);
}
