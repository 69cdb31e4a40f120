import type { Scope } from '../contracts/common.ts';
import { budgetFinding, budgetFindingId, formatUsd, roundUsd, type BudgetEmission } from './budget-finding.ts';
import type { BudgetsPolicy } from './budgets-policy.ts';
import { dayLabel, type BudgetPeriods } from './periods.ts';

/** One UTC day of the whole product: how many events were stored and what they cost (usd). */
export interface DaySpend {
  events: number;
  usd: number;
}

/** The verdict on one checked day, for the operator's report. */
export interface DailyCheck {
  day: string;
  /** False for today: its spend is so far. */
  complete: boolean;
  usd: number;
  /** Mean daily spend of the baseline days with data; null when there were too few of them. */
  baselineUsd: number | null;
  historyDays: number;
  verdict: 'spike' | 'normal' | 'below_floor' | 'insufficient_history';
}

export const DAILY_SPIKE_RULE = 'daily_product_spike';
const GLOBAL: Scope = { kind: 'global', id: '*' };

/**
 * Whole-product daily spend against its rolling baseline (SPEC §3 item 5), for yesterday (so a
 * check that was down at midnight still judges the whole day) and today so far (a partial day
 * can only grow, so it fires as soon as it is past the line).
 *
 * The baseline is the mean spend of the `baseline_days` days before the checked day, counting
 * only days with any stored event: a day with none is missing data (a new product, ingest down),
 * not a day of zero spend. Fewer such days than `min_history_days` → no verdict. A day fires when
 * its spend exceeds `ratio` × baseline and is at least `min_usd`; once per day (the id is the day).
 */
export function dailyProductFindings(
  days: ReadonlyMap<number, DaySpend>,
  policy: BudgetsPolicy['daily_product'],
  periods: BudgetPeriods,
  fired: ReadonlySet<string>,
): { emissions: BudgetEmission[]; checks: DailyCheck[] } {
  const emissions: BudgetEmission[] = [];
  const checks: DailyCheck[] = [];
  const today = periods.checkDays[1];
  for (const day of periods.checkDays) {
    const history: number[] = [];
    for (let d = day - policy.baseline_days; d < day; d++) {
      const spend = days.get(d);
      if (spend !== undefined && spend.events > 0) history.push(spend.usd);
    }
    const usd = roundUsd(days.get(day)?.usd ?? 0);
    const label = dayLabel(day);
    const check = { day: label, complete: day < today, usd, historyDays: history.length };
    if (history.length < policy.min_history_days) {
      checks.push({ ...check, baselineUsd: null, verdict: 'insufficient_history' });
      continue;
    }
    const baseline = roundUsd(history.reduce((a, b) => a + b, 0) / history.length);
    const threshold = roundUsd(policy.ratio * baseline);
    const over = usd > threshold;
    const verdict = !over ? 'normal' : usd < policy.min_usd ? 'below_floor' : 'spike';
    checks.push({ ...check, baselineUsd: baseline, verdict });
    if (verdict !== 'spike' || fired.has(budgetFindingId(DAILY_SPIKE_RULE, GLOBAL, [label]))) continue;
    const times = baseline > 0 ? `${Math.round((usd / baseline) * 10) / 10}×` : 'more than';
    const finding = budgetFinding({
      rule: DAILY_SPIKE_RULE,
      severity: 'warning',
      ts: periods.nowMs,
      scope: GLOBAL,
      period: [label],
      observed: usd,
      threshold,
      baseline,
      details: {
        day: label,
        complete: check.complete,
        ratio: policy.ratio,
        history_days: history.length,
        message:
          `Product spend ${check.complete ? 'on' : 'so far on'} ${label} is ${formatUsd(usd)}, ${times} the ${formatUsd(baseline)} daily mean of ` +
          `the ${history.length} days before it (fires above ${policy.ratio}× = ${formatUsd(threshold)}).`,
      },
    });
    emissions.push({ finding });
  }
  return { emissions, checks };
}
