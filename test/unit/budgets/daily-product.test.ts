import { describe, expect, it } from 'vitest';
import { BUDGETS_DEFAULTS } from '../../../src/budgets/budgets-policy.ts';
import { dailyProductFindings, type DaySpend } from '../../../src/budgets/daily-product.ts';
import { budgetPeriods } from '../../../src/budgets/periods.ts';
import { NOW, TODAY } from './inputs.ts';

const POLICY = BUDGETS_DEFAULTS.daily_product; // ratio 1.5, 7 baseline days, min 3 of them, floor $1
const PERIODS = budgetPeriods(NOW, POLICY.baseline_days);

/** Days relative to today (0 = today, -1 = yesterday) → usd, each with some events. */
function days(byOffset: Record<number, number>): Map<number, DaySpend> {
  return new Map(Object.entries(byOffset).map(([offset, usd]) => [TODAY + Number(offset), { events: 10, usd }]));
}

/** A week of $100 days before yesterday, and yesterday normal too. */
const WEEK = { [-8]: 100, [-7]: 100, [-6]: 100, [-5]: 100, [-4]: 100, [-3]: 100, [-2]: 100, [-1]: 100 };

const check = (d: Map<number, DaySpend>, fired = new Set<string>(), policy = POLICY) => dailyProductFindings(d, policy, PERIODS, fired);

describe('daily product spend against its rolling baseline', () => {
  it('fires when today so far is above 1.5 × the mean of the 7 days before it', () => {
    const { emissions, checks } = check(days({ ...WEEK, 0: 151 }));
    expect(emissions).toHaveLength(1);
    expect(emissions[0]?.finding).toMatchObject({
      detector: 'budget',
      rule: 'daily_product_spike',
      severity: 'warning',
      scope: { kind: 'global', id: '*' },
      observed: 151,
      threshold: 150,
      baseline: 100,
      details: { day: '2026-11-23', complete: false, ratio: 1.5, history_days: 7 },
    });
    expect(emissions[0]?.finding.details?.['message']).toBe(
      'Product spend so far on 2026-11-23 is $151.00, 1.5× the $100.00 daily mean of the 7 days before it (fires above 1.5× = $150.00).',
    );
    expect(emissions[0]?.command).toBeUndefined();
    expect(checks.map((c) => [c.day, c.verdict])).toEqual([
      ['2026-11-22', 'normal'],
      ['2026-11-23', 'spike'],
    ]);
  });

  it('does not fire at exactly 1.5 ×, nor below it', () => {
    expect(check(days({ ...WEEK, 0: 150 })).emissions).toEqual([]);
    expect(check(days({ ...WEEK, 0: 20 })).emissions).toEqual([]);
  });

  it('with too little history gives no verdict, whatever the spend', () => {
    const { emissions, checks } = check(days({ [-2]: 1, [-1]: 1, 0: 1_000 }));
    expect(emissions).toEqual([]);
    expect(checks.map((c) => [c.verdict, c.historyDays, c.baselineUsd])).toEqual([
      ['insufficient_history', 1, null],
      ['insufficient_history', 2, null],
    ]);
  });

  it('counts only days with events as history: a missing day is no data, not a day of $0', () => {
    // Three days with data, spread over the week: enough history, baseline is their mean.
    const { emissions, checks } = check(days({ [-7]: 100, [-4]: 200, [-2]: 300, 0: 301 }));
    expect(checks[1]).toMatchObject({ historyDays: 3, baselineUsd: 200, verdict: 'spike' });
    expect(emissions[0]?.finding.threshold).toBe(300);
    // A day with events but no spend is history, at $0.
    const zeros = new Map<number, DaySpend>([
      [TODAY - 3, { events: 5, usd: 0 }],
      [TODAY - 2, { events: 5, usd: 0 }],
      [TODAY - 1, { events: 5, usd: 0 }],
      [TODAY, { events: 5, usd: 4 }],
    ]);
    const out = check(zeros);
    expect(out.checks[1]).toMatchObject({ baselineUsd: 0, verdict: 'spike' });
    expect(out.emissions[0]?.finding.details?.['message']).toContain('$4.00, more than the $0.00 daily mean');
  });

  it('below the absolute floor a spike is noise: no finding', () => {
    const { emissions, checks } = check(days({ [-3]: 0.2, [-2]: 0.2, [-1]: 0.2, 0: 0.9 }));
    expect(emissions).toEqual([]);
    expect(checks[1]?.verdict).toBe('below_floor');
  });

  it('judges yesterday as a whole day too, so a check that was down at midnight still fires for it', () => {
    const { emissions } = check(days({ [-8]: 100, [-7]: 100, [-6]: 100, [-5]: 100, [-4]: 100, [-3]: 100, [-2]: 100, [-1]: 400, 0: 10 }));
    expect(emissions.map((e) => [e.finding.details?.['day'], e.finding.details?.['complete'], e.finding.observed])).toEqual([['2026-11-22', true, 400]]);
  });

  it('fires once per day: the same day already fired is not repeated, the next day is its own', () => {
    const spike = days({ ...WEEK, 0: 500 });
    const first = check(spike).emissions;
    expect(first).toHaveLength(1);
    const fired = new Set(first.map((e) => e.finding.finding_id));
    expect(check(days({ ...WEEK, 0: 900 }), fired).emissions).toEqual([]);
    const tomorrow = dailyProductFindings(days({ ...WEEK, 0: 500, 1: 2_000 }), POLICY, budgetPeriods(NOW + 86_400_000, 7), fired);
    expect(tomorrow.emissions.map((e) => e.finding.details?.['day'])).toEqual(['2026-11-24']);
  });
});
