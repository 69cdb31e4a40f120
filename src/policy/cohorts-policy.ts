import { z } from 'zod';
import { cohortDimensions, strictSection } from './fields.ts';

/** The dimensions a run's owners give: fixed for the whole run, known again when it is evicted. */
export const OWNER_DIMS = ['agent_id', 'tenant_id', 'user_id'] as const;

/**
 * Top-level section `cohorts` (SPEC §3.3–§3.4): which dimensions make a cohort for each cohort
 * detector. The per-run stage builds one partial per view and cohort from every event; the cohort
 * stage keeps one state per (view, cohort).
 */
export const cohortsPolicySchema = strictSection({
  /** cost-spike spend rules (`spend_spike`, `spend_sustained`): spend per minute per cohort. */
  spend: cohortDimensions(1),
  /** cost-spike `llm_rate`: LLM calls per minute of a user. */
  user: cohortDimensions(1),
  /** cost-spike `run_tokens_p99`: a run's tokens against the rolling p99 of runs of its cohort; owners only. */
  agent: cohortDimensions(1).refine((dims) => dims.every((d) => (OWNER_DIMS as readonly string[]).includes(d)), {
    message: `must be owner dimensions only (${OWNER_DIMS.join(', ')}): runs are grouped by who they belong to`,
  }),
  /** judge-drift: lineage × version dimensions (each agent's `judge_drift.version_dims` must be among them). */
  judge: cohortDimensions(1),
  /**
   * Segments for judge-drift: each adds a cohort of `judge` × that segment, for events that carry
   * it (a drift confined to, say, the free plan is diluted in the whole).
   */
  segments: cohortDimensions(0),
});
export type CohortsPolicy = z.infer<typeof cohortsPolicySchema>;

export const COHORTS_DEFAULTS: CohortsPolicy = {
  spend: ['tenant_id', 'agent_id', 'user_id', 'model'],
  user: ['tenant_id', 'user_id'],
  agent: ['agent_id'],
  judge: ['agent_id', 'model_version', 'prompt_hash'],
  segments: [],
};

/** Cross-field problems of the section alone (path relative to `cohorts`). */
export function cohortsIssues(c: CohortsPolicy): { path: keyof CohortsPolicy; message: string }[] {
  const both = c.segments.filter((s) => c.judge.includes(s));
  if (both.length === 0) return [];
  return [{ path: 'segments', message: `must not repeat a dimension of cohorts.judge (${both.join(', ')}): it is already in every judge cohort` }];
}
