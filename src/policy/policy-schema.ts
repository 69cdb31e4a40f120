import { z } from 'zod';
import { alertsSectionSchema } from '../alerts/alerts-policy.ts';
import { budgetsSectionSchema } from '../budgets/budgets-policy.ts';
import { boundedId } from '../contracts/common.ts';
import { COST_SPIKE_DEFAULTS, costSpikeParamsSchema } from '../../detectors/cost-spike.ts';
import { JUDGE_DRIFT_DEFAULTS, judgeDriftParamsSchema } from '../../detectors/judge-drift.ts';
import { STEP_CAP_DEFAULTS, stepCapParamsSchema } from '../../detectors/step-cap.ts';
import { TOOL_LOOP_DEFAULTS, toolLoopParamsSchema } from '../../detectors/tool-loop.ts';
import { modelPriceSchema } from '../pricing/price-table.ts';
import { cohortsPolicySchema } from './cohorts-policy.ts';
import { duration } from './duration.ts';
import { flag, positiveInt, strictSection } from './fields.ts';

/**
 * How long a command stays in force at the guard (ms; durations such as "15m" accepted), per
 * action. A run abort outlives any run; a warn is advisory; a throttle must lapse on its own.
 */
export const commandsPolicySchema = strictSection({
  ttl: strictSection({ abort: duration(), warn: duration(), throttle: duration() }),
});
export type CommandsPolicy = z.infer<typeof commandsPolicySchema>;
export const COMMANDS_DEFAULTS: CommandsPolicy = { ttl: { abort: 3_600_000, warn: 900_000, throttle: 900_000 } };

/** Bounded run state of the per-run stage (SPEC §4). Times are event time, ms. */
export const runsPolicySchema = strictSection({
  /** Keep a run this long after its run_end, for late out-of-order events. */
  grace_after_end: duration(),
  /** Drop a run not seen for this long (a run may never send run_end). */
  idle_timeout: duration().refine((ms) => ms > 0, 'must be greater than 0'),
  /** Hard bound on live runs; past it the least recently seen run is dropped. */
  max_runs: positiveInt(),
});
export type RunsPolicy = z.infer<typeof runsPolicySchema>;
export const RUNS_DEFAULTS: RunsPolicy = { grace_after_end: 60_000, idle_timeout: 1_800_000, max_runs: 100_000 };

/** Everything one agent's runs are governed by, after defaults and overrides are merged. */
export const agentPolicySchema = strictSection({
  step_cap: stepCapParamsSchema,
  tool_loop: toolLoopParamsSchema,
  commands: commandsPolicySchema,
  cost_spike: costSpikeParamsSchema,
  judge_drift: judgeDriftParamsSchema,
});
export type AgentPolicy = z.infer<typeof agentPolicySchema>;

export const AGENT_DEFAULTS: AgentPolicy = {
  step_cap: STEP_CAP_DEFAULTS,
  tool_loop: TOOL_LOOP_DEFAULTS,
  commands: COMMANDS_DEFAULTS,
  cost_spike: COST_SPIKE_DEFAULTS,
  judge_drift: JUDGE_DRIFT_DEFAULTS,
};

/** `defaults` and each `agents.<id>`: any subset of the fields, merged field by field. */
export const agentOverrideSchema = strictSection({
  step_cap: stepCapParamsSchema.partial().optional(),
  tool_loop: toolLoopParamsSchema.partial().optional(),
  commands: strictSection({ ttl: commandsPolicySchema.shape.ttl.partial().optional() }).optional(),
  cost_spike: costSpikeParamsSchema.partial().optional(),
  judge_drift: judgeDriftParamsSchema.partial().optional(),
});
export type AgentOverride = z.infer<typeof agentOverrideSchema>;

/** An agent_id as it appears on span events. */
export const agentIdSchema = boundedId(128);

/** A record's message: a bad key says what is wrong with the key, anything else what the record holds. */
function recordError(key: string, value: string) {
  return (iss: { code?: string; issues?: readonly { message: string }[] }) =>
    iss.code === 'invalid_key' ? `the ${key} ${iss.issues?.[0]?.message ?? 'is not valid'}` : `must be a mapping of ${key} → ${value}`;
}

/** Prices: usd per 1M tokens, merged over the built-in table unless `replace_defaults`. */
export const pricingPolicySchema = strictSection({
  models: z.record(boundedId(128), modelPriceSchema, { error: recordError('model name', 'prices') }).optional(),
  replace_defaults: flag().optional(),
});

/** The policy file (YAML or JSON). Every section is optional; absent fields keep the defaults. */
export const policyFileSchema = strictSection({
  version: z.literal(1, { error: 'must be 1 (the only policy format version)' }).optional(),
  defaults: agentOverrideSchema.optional(),
  agents: z.record(agentIdSchema, agentOverrideSchema, { error: recordError('agent_id', 'overrides') }).optional(),
  runs: runsPolicySchema.partial().optional(),
  pricing: pricingPolicySchema.optional(),
  budgets: budgetsSectionSchema.optional(),
  /** Cohort dimensions of the cohort detectors; absent lists keep their defaults. */
  cohorts: cohortsPolicySchema.partial().optional(),
  /** Where findings are announced (webhooks), by severity and detector. */
  alerts: alertsSectionSchema.optional(),
});
export type PolicyFile = z.infer<typeof policyFileSchema>;
