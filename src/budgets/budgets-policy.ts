import cron from 'node-cron';
import { z } from 'zod';
import { boundedId, count } from '../contracts/common.ts';
import { duration } from '../policy/duration.ts';
import { flag, positiveAmount, positiveInt, strictSection } from '../policy/fields.ts';
import { defined } from '../util/defined.ts';

/**
 * The `budgets` section of the policy file (SPEC §3 item 5): top level, not per agent, because a
 * budget belongs to a customer or a person whatever agents they use. Every field is optional and
 * merged over BUDGETS_DEFAULTS; the result is checked as a whole.
 *
 * ```yaml
 * budgets:
 *   schedule: "*\/5 * * * *"      # cron, UTC: how often the check runs
 *   monthly_usd:                  # calendar month, UTC; no limit → no monthly check for that scope
 *     tenant_default: 1000
 *     user_default: 50
 *     tenants: { acme: 5000 }
 *     users: { u-42: 200 }
 *   thresholds: [0.5, 0.75, 1]    # findings at 50 / 75 / 100 % of the limit
 *   throttle: { max_llm_calls_per_minute: 10 }   # sent with the first crossing of ≥ 100 %
 *   daily_product: { ratio: 1.5, baseline_days: 7, min_history_days: 3, min_usd: 1 }
 * ```
 */

const CRON_HINT = 'must be a cron expression such as "*/5 * * * *" (minute hour day-of-month month day-of-week, optionally a leading seconds field)';

const cronExpression = () =>
  z.string({ error: CRON_HINT }).refine((expr) => cron.validate(expr), CRON_HINT);

const usd = () => positiveAmount('usd');

/** scope id → monthly limit (usd). */
const limits = (what: string) =>
  z.record(boundedId(128), usd(), {
    error: (iss) => (iss.code === 'invalid_key' ? `a ${what} id ${iss.issues[0]?.message ?? 'is not valid'}` : `must be a mapping of ${what} id → usd per month`),
  });

/** A threshold as a ratio of the limit: a whole percentage, above 0 and at most 10 (1000 %). */
const threshold = () =>
  z
    .number({ error: 'must be a ratio of the limit such as 0.5 (50 %)' })
    .gt(0, 'must be greater than 0')
    .lte(10, 'must be at most 10 (1000 %)')
    .refine((t) => Math.abs(t * 100 - Math.round(t * 100)) < 1e-9, 'must be a whole percentage such as 0.5, 0.75 or 1');

export const monthlyBudgetsSchema = strictSection({
  /** Limit of every tenant without its own entry; absent: only listed tenants have a budget. */
  tenant_default: usd().optional(),
  /** Limit of every user without its own entry; absent: only listed users have a budget. */
  user_default: usd().optional(),
  tenants: limits('tenant'),
  users: limits('user'),
});

/** What the guard does to a scope past 100 % of its budget (SPEC §2 `throttle`). */
export const budgetThrottleSchema = strictSection({
  enabled: flag(),
  max_llm_calls_per_minute: count().optional(),
  max_concurrent_runs: count().optional(),
  delay_ms: count().optional(),
  /** How long the throttle holds (ms); absent: until the end of the month, when the budget resets. Never past it. */
  ttl: duration()
    .refine((ms) => ms > 0, 'must be greater than 0')
    .optional(),
});

/** Whole-product spend per UTC day against its rolling baseline. */
export const dailyProductSchema = strictSection({
  enabled: flag(),
  /** Fires when a day's spend exceeds ratio × the mean daily spend of the baseline days. */
  ratio: z.number({ error: 'must be a number greater than 1' }).gt(1, 'must be greater than 1 (a day above ratio × the baseline fires)'),
  /** The days before the checked day that form the baseline. */
  baseline_days: positiveInt().max(60, 'must be at most 60 days'),
  /** Fewer baseline days with any events than this → no verdict (a new product has no baseline yet). */
  min_history_days: positiveInt(),
  /** A day below this spend (usd) never fires, whatever its baseline: cents of noise are not a spike. */
  min_usd: z.number({ error: 'must be a number (usd)' }).nonnegative('must not be negative (usd)'),
});

export const budgetsPolicySchema = strictSection({
  enabled: flag(),
  schedule: cronExpression(),
  /** Months, days and the schedule are UTC. Named so that nobody has to guess. */
  timezone: z.literal('UTC', { error: 'must be "UTC": months, days and the schedule are UTC calendar periods' }),
  monthly_usd: monthlyBudgetsSchema,
  thresholds: z
    .array(threshold(), { error: 'must be a list of ratios such as [0.5, 0.75, 1]' })
    .min(1, 'name at least one threshold')
    .refine((ts) => ts.every((t, i) => i === 0 || t > (ts[i - 1] as number)), 'must be in increasing order, each once'),
  throttle: budgetThrottleSchema,
  daily_product: dailyProductSchema,
  /** LLM calls stored at $0 because their model is missing from the price table → a finding per model and day. */
  unknown_models: strictSection({ enabled: flag() }),
});
export type BudgetsPolicy = z.infer<typeof budgetsPolicySchema>;
export type MonthlyBudgets = BudgetsPolicy['monthly_usd'];

export const BUDGETS_DEFAULTS: BudgetsPolicy = {
  enabled: true,
  schedule: '*/5 * * * *',
  timezone: 'UTC',
  monthly_usd: { tenants: {}, users: {} },
  thresholds: [0.5, 0.75, 1],
  throttle: { enabled: true, max_llm_calls_per_minute: 10 },
  daily_product: { enabled: true, ratio: 1.5, baseline_days: 7, min_history_days: 3, min_usd: 1 },
  unknown_models: { enabled: true },
};

/**
 * The section as written in the policy file: any subset of the fields (one level deep), merged
 * over BUDGETS_DEFAULTS and then validated as a whole, so cross-field problems name the field to
 * change. Parses to the complete BudgetsPolicy.
 */
export const budgetsSectionSchema = strictSection({
  enabled: budgetsPolicySchema.shape.enabled.optional(),
  schedule: budgetsPolicySchema.shape.schedule.optional(),
  timezone: budgetsPolicySchema.shape.timezone.optional(),
  monthly_usd: monthlyBudgetsSchema.partial().optional(),
  thresholds: budgetsPolicySchema.shape.thresholds.optional(),
  throttle: budgetThrottleSchema.partial().optional(),
  daily_product: dailyProductSchema.partial().optional(),
  unknown_models: strictSection({ enabled: flag().optional() }).optional(),
})
  .transform((s): BudgetsPolicy => {
    const d = BUDGETS_DEFAULTS;
    return {
      enabled: s.enabled ?? d.enabled,
      schedule: s.schedule ?? d.schedule,
      timezone: s.timezone ?? d.timezone,
      monthly_usd: { ...d.monthly_usd, ...defined(s.monthly_usd) },
      thresholds: s.thresholds ?? d.thresholds,
      throttle: { ...d.throttle, ...defined(s.throttle) },
      daily_product: { ...d.daily_product, ...defined(s.daily_product) },
      unknown_models: { ...d.unknown_models, ...defined(s.unknown_models) },
    };
  })
  .superRefine((b, ctx) => {
    if (b.throttle.enabled && !b.thresholds.some((x) => x >= 1)) {
      ctx.addIssue({ code: 'custom', path: ['thresholds'], message: 'include 1 (100 %) so the throttle has a crossing to fire on, or set throttle.enabled: false' });
    }
    const p = b.daily_product;
    if (p.min_history_days > p.baseline_days) {
      ctx.addIssue({
        code: 'custom',
        path: ['daily_product', 'min_history_days'],
        message: `must be at most baseline_days (${p.baseline_days})`,
        input: p.min_history_days,
      });
    }
  });
export type BudgetsSection = z.input<typeof budgetsSectionSchema>;
