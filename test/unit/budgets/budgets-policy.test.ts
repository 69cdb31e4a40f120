import { describe, expect, it } from 'vitest';
import { BUDGETS_DEFAULTS } from '../../../src/budgets/budgets-policy.ts';
import { DEFAULT_POLICY, loadPolicy, parsePolicy, PolicyError } from '../../../src/policy/policy.ts';

function issuesOf(doc: unknown): readonly string[] {
  try {
    parsePolicy(doc);
  } catch (err) {
    expect(err).toBeInstanceOf(PolicyError);
    return (err as PolicyError).issues;
  }
  throw new Error('expected a PolicyError');
}

describe('the budgets policy section', () => {
  it('defaults: every 5 min, UTC, 50/75/100 %, throttle at 100 %, daily spike at 1.5× a 7-day baseline, no monthly limits', () => {
    expect(DEFAULT_POLICY.budgets).toEqual(BUDGETS_DEFAULTS);
    expect(BUDGETS_DEFAULTS).toMatchObject({
      enabled: true,
      schedule: '*/5 * * * *',
      timezone: 'UTC',
      thresholds: [0.5, 0.75, 1],
      monthly_usd: { tenants: {}, users: {} },
      daily_product: { ratio: 1.5, baseline_days: 7 },
    });
  });

  it('is top level and merged field by field over the defaults', () => {
    const policy = loadPolicy(
      `
budgets:
  schedule: "0 * * * *"
  monthly_usd:
    tenant_default: 1000
    users: { u-42: 200, "u.with.dots": 5 }
  throttle: { max_concurrent_runs: 2, ttl: 1d }
  daily_product: { ratio: 2 }
`,
      'yaml',
    );
    expect(policy.budgets).toEqual({
      ...BUDGETS_DEFAULTS,
      schedule: '0 * * * *',
      monthly_usd: { tenants: {}, users: { 'u-42': 200, 'u.with.dots': 5 }, tenant_default: 1000 },
      throttle: { enabled: true, max_llm_calls_per_minute: 10, max_concurrent_runs: 2, ttl: 86_400_000 },
      daily_product: { ...BUDGETS_DEFAULTS.daily_product, ratio: 2 },
    });
  });

  it.each([
    ['a per-agent budgets section (budgets are per tenant and user, not per agent)', { defaults: { budgets: {} } }, /^defaults: unknown field "budgets"/],
    ['a bad cron expression', { budgets: { schedule: 'every 5 minutes' } }, /^budgets\.schedule: must be a cron expression/],
    ['another timezone', { budgets: { timezone: 'Europe/Paris' } }, /^budgets\.timezone: must be "UTC"/],
    ['a negative limit', { budgets: { monthly_usd: { tenants: { acme: -5 } } } }, /^budgets\.monthly_usd\.tenants\.acme: must be a positive number \(usd\) \(got -5\)/],
    ['a typo in monthly_usd', { budgets: { monthly_usd: { tenant: { acme: 5 } } } }, /^budgets\.monthly_usd: unknown field "tenant"; expected one of: tenant_default/],
    ['thresholds out of order', { budgets: { thresholds: [0.75, 0.5, 1] } }, /^budgets\.thresholds: must be in increasing order/],
    ['a threshold that is not a whole percentage', { budgets: { thresholds: [0.505, 1] } }, /^budgets\.thresholds\[0\]: must be a whole percentage/],
    ['no 100 % threshold for the throttle', { budgets: { thresholds: [0.5, 0.9] } }, /^budgets\.thresholds: include 1 \(100 %\)/],
    ['a spike ratio of 1 or less', { budgets: { daily_product: { ratio: 1 } } }, /^budgets\.daily_product\.ratio: must be greater than 1/],
    ['more history required than the baseline has', { budgets: { daily_product: { min_history_days: 8 } } }, /^budgets\.daily_product\.min_history_days: must be at most baseline_days \(7\) \(got 8\)/],
    ['"false" as a string', { budgets: { enabled: 'false' } }, /^budgets\.enabled: must be true or false/],
    ['a zero ttl', { budgets: { throttle: { ttl: 0 } } }, /^budgets\.throttle\.ttl: must be greater than 0/],
  ])('rejects %s with a message that says what to change', (_name, doc, message) => {
    const issues = issuesOf(doc);
    expect(issues).toHaveLength(1);
    expect(issues[0]).toMatch(message);
  });

  it('accepts thresholds without 100 % when the throttle is off', () => {
    expect(parsePolicy({ budgets: { thresholds: [0.8], throttle: { enabled: false } } }).budgets.thresholds).toEqual([0.8]);
  });
});
