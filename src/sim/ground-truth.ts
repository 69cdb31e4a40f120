import { z } from 'zod';

/** Wire version of the ground truth that `runwarden simulate --scenario cohorts --truth FILE` writes. */
export const SIM_TRUTH_SCHEMA_VERSION = 'runwarden.sim-truth/v1';

/**
 * What was injected:
 * - `spend_spike`: for 1–3 min a runaway run of one cohort calls the LLM about once a second,
 *   adding (k − 1) × the cohort's expected spend: the cohort spends ~k× in the window;
 * - `spend_sustained`: one cohort starts k× as many runs for tens of minutes;
 * - `llm_rate_burst`: one user starts k× as many runs, each with k× fewer tokens per call (the call
 *   rate rises, the spend does not);
 * - `judge_version_drop`: an agent ships a new model_version or prompt_hash whose judge scores are
 *   lower by `magnitude` (abrupt, for the rest of the fleet);
 * - `judge_decay`: an agent's scores decline linearly by `magnitude` × its mean (relative) from
 *   start to end;
 * - `judge_segment_drop`: an agent's scores drop by `magnitude` for one segment only (e.g. plan_tier=free).
 */
export const INCIDENT_KINDS = ['spend_spike', 'spend_sustained', 'llm_rate_burst', 'judge_version_drop', 'judge_decay', 'judge_segment_drop'] as const;
export type IncidentKind = (typeof INCIDENT_KINDS)[number];

const dims = () => z.record(z.string(), z.string());

export const incidentSchema = z.object({
  id: z.string(),
  kind: z.enum(INCIDENT_KINDS),
  /** The dimensions (with their values) a finding must carry to be a detection of this incident. */
  cohort: dims(),
  /** Event time (ms) of the first affected event, and the end of the effect (exclusive). */
  start_ts: z.number().int(),
  end_ts: z.number().int(),
  /** k for `times`; absolute score drop for `score_drop`; share of the mean for `relative_decline`. */
  magnitude: z.number(),
  unit: z.enum(['times', 'score_drop', 'relative_decline']),
  /** The detector and the rules that should catch it (any of them counts). */
  expected: z.object({ detector: z.string(), rules: z.array(z.string()).min(1) }),
  details: z.record(z.string(), z.unknown()),
});
export type Incident = z.infer<typeof incidentSchema>;

/** One spend cohort (tenant × agent × user × model) and its static segments. */
export const simCohortSchema = z.object({
  /** Prefix of the cohort's run ids: `<id>.r<n>`, and `<id>.runaway` for a spend spike's runaway run. */
  id: z.string(),
  tenant_id: z.string(),
  agent_id: z.string(),
  user_id: z.string(),
  model: z.string(),
  plan_tier: z.string(),
  region: z.string(),
  user_segment: z.string(),
  /** Mean runs started per minute before the diurnal factor (0.5–1.5 × this over a day). */
  runs_per_minute: z.number(),
  /** Expected spend (usd per minute) at that mean rate. */
  usd_per_minute: z.number(),
  /** True when no incident touches the cohort (neither its spend nor its user). */
  quiet: z.boolean(),
});
export type SimCohort = z.infer<typeof simCohortSchema>;

export const releaseSchema = z.object({
  ts: z.number().int(),
  model_version: z.string(),
  prompt_hash: z.string(),
  /** `initial` at the fleet start; `benign` ships with no change of scores; `incident` is a judge_version_drop. */
  kind: z.enum(['initial', 'benign', 'incident']),
});

export const simAgentSchema = z.object({
  agent_id: z.string(),
  /** Mean judge score of its runs before any incident. */
  judge_mean: z.number(),
  releases: z.array(releaseSchema),
  /** True when no judge incident touches the agent (a benign release may). */
  quiet: z.boolean(),
});
export type SimAgent = z.infer<typeof simAgentSchema>;

export const groundTruthSchema = z.object({
  schema: z.literal(SIM_TRUTH_SCHEMA_VERSION),
  seed: z.number().int(),
  start_ts: z.number().int(),
  end_ts: z.number().int(),
  cohorts: z.array(simCohortSchema),
  agents: z.array(simAgentSchema),
  incidents: z.array(incidentSchema),
});
export type GroundTruth = z.infer<typeof groundTruthSchema>;

/** The cohort id of a simulated run id (`<cohort id>.r<n>` or `<cohort id>.runaway`), or undefined for another run id. */
export function cohortIdOfRun(runId: string): string | undefined {
  const dot = runId.lastIndexOf('.r');
  return dot > 0 ? runId.slice(0, dot) : undefined;
}
