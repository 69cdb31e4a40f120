import type { SpanEvent } from '../contracts/span.ts';
import type { CohortsPolicy } from '../policy/cohorts-policy.ts';
import { priceLlmCall, type PriceTable } from '../pricing/price-table.ts';
import type { RunEntry } from '../runs/run-table.ts';
import { dimValue, MISSING_DIM } from '../windows/cohort-key.ts';
import { emptyPartial, partialOfEvent, type CohortPartial, type CohortView, type EventContribution } from '../windows/cohort-partial.ts';
import { sketchOfValue } from '../windows/quantile-sketch.ts';
import { createPartialBuffer } from './partial-buffer.ts';

export interface PartialFeedOptions {
  cohorts: CohortsPolicy;
  /** Prices an llm_call without `cost_usd`, as ingest and step-cap do. */
  pricing: PriceTable;
}

/** Turns the events the per-run stage applied into cohort partials, coalesced until drained. */
export interface PartialFeed {
  /** One applied, non-duplicate event; `endsRun` when it is the first run_end of its run. */
  event(event: SpanEvent, endsRun: boolean): void;
  /** A run left the run table; one that never sent run_end counts as ended here. */
  evicted(entry: Readonly<RunEntry>): void;
  drain(): CohortPartial[];
  /** (view, cohort, minute) keys waiting to be drained. */
  readonly pending: number;
  /** Live runs whose token total is kept (those with at least one LLM call). */
  readonly trackedRuns: number;
}

/**
 * Builds only the partials a cohort detector reads (SPEC §3.3–§3.4), so that other events cost
 * nothing here:
 * - `llm_call` → `spend`, `user` and `agent` partials (priced cost; the run's running token total
 *   for the run-tokens rule);
 * - `judge_score` → a `judge` partial, plus one per configured segment the event carries;
 * - the end of a run (its first run_end, or its eviction without one) → an `agent` partial with
 *   the run's token total for the rolling quantile of completed runs.
 * The only per-run state is each run's token total (one Map entry per run with LLM calls),
 * dropped with the run.
 */
export function createPartialFeed(options: PartialFeedOptions): PartialFeed {
  const { cohorts, pricing } = options;
  const buffer = createPartialBuffer();
  const runTokens = new Map<string, number>();
  const spend = cohortShape('spend', cohorts.spend);
  const user = cohortShape('user', cohorts.user);
  const agent = cohortShape('agent', cohorts.agent);
  const judge = cohortShape('judge', cohorts.judge);
  const segments = cohorts.segments.map((segment) => ({ segment, shape: cohortShape('judge', [...cohorts.judge, segment]) }));

  /** Builds the cohort and its state key in one pass (dimensions sorted once, up front), then the partial. */
  function add(shape: CohortShape, event: SpanEvent, c?: EventContribution): void {
    const cohort: Record<string, string> = {};
    let key = shape.prefix;
    for (let i = 0; i < shape.dims.length; i++) {
      const d = shape.dims[i] as string;
      const v = dimValue(event, d) ?? MISSING_DIM;
      cohort[d] = v;
      key += `${i === 0 ? '' : ','}${d}=${v}`;
    }
    buffer.add(partialOfEvent(shape.view, cohort, event, c), key);
  }

  return {
    event(event, endsRun) {
      if (event.kind === 'llm_call') {
        const costUsd = priceLlmCall(event.llm, pricing).costUsd;
        const tokens = (runTokens.get(event.run_id) ?? 0) + event.llm.input_tokens + event.llm.output_tokens;
        runTokens.set(event.run_id, tokens);
        add(spend, event, { costUsd });
        add(user, event, { costUsd });
        add(agent, event, { costUsd, runTokens: tokens });
      } else if (event.kind === 'judge_score') {
        add(judge, event);
        for (const s of segments) if (event.attrs?.[s.segment] !== undefined) add(s.shape, event);
      }
      if (endsRun) {
        add(agent, event, { endedRunTokens: runTokens.get(event.run_id) ?? 0 });
        runTokens.delete(event.run_id);
      }
    },

    evicted(entry) {
      const tokens = runTokens.get(entry.runId) ?? 0;
      runTokens.delete(entry.runId);
      if (entry.endedAtMs !== undefined) return; // counted at its run_end
      // Placed at the run's last event: that is when it ended, as far as anyone can tell.
      const owners: Record<string, string> = { agent_id: entry.agentId, tenant_id: entry.tenantId, user_id: entry.userId };
      const cohort: Record<string, string> = {};
      for (const d of cohorts.agent) cohort[d] = owners[d] ?? MISSING_DIM;
      const p = emptyPartial('agent', cohort, entry.lastSeenMs);
      p.runs_ended = 1;
      p.run_tokens = sketchOfValue(tokens);
      buffer.add(p);
    },

    drain: () => buffer.drain(),
    get pending() {
      return buffer.size;
    },
    get trackedRuns() {
      return runTokens.size;
    },
  };
}

/** A view's dimensions in cohort-id order, and the state-key prefix. */
interface CohortShape {
  view: CohortView;
  dims: readonly string[];
  prefix: string;
}

const cohortShape = (view: CohortView, dims: readonly string[]): CohortShape => ({ view, dims: [...dims].sort(), prefix: `${view}|` });
