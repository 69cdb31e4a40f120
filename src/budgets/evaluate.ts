import type { PriceTable } from '../pricing/price-table.ts';
import type { BudgetEmission } from './budget-finding.ts';
import type { BudgetsPolicy } from './budgets-policy.ts';
import { dailyProductFindings, type DailyCheck, type DaySpend } from './daily-product.ts';
import { monthlyBudgetFindings, type MonthlySpend } from './monthly.ts';
import type { BudgetPeriods } from './periods.ts';
import { unknownModelFindings, type UnpricedCalls } from './unknown-models.ts';

/** Everything one budget check reads from ClickHouse (queries.ts), for the periods it checks. */
export interface BudgetInputs {
  periods: BudgetPeriods;
  monthly: MonthlySpend;
  /** UTC day number → product spend, from `periods.dailyFromMs` to now; days without events are absent. */
  days: ReadonlyMap<number, DaySpend>;
  unpriced: readonly UnpricedCalls[];
  /** Ids of budget findings already in the `findings` table since `periods.firedFromMs`. */
  fired: ReadonlySet<string>;
}

export interface BudgetEvaluation {
  /** New findings, each with the unsigned command it calls for (a throttle at 100 %). */
  emissions: BudgetEmission[];
  /** The verdict on each checked day (empty when the daily check is off). */
  daily: DailyCheck[];
}

/**
 * The budget check, free of I/O (SPEC §3 item 5): monthly budgets per tenant and user, the
 * whole-product daily spike, and LLM calls of unknown models. Deterministic: the same inputs
 * give the same findings with the same ids, and nothing whose id is in `inputs.fired` again.
 */
export function evaluateBudgets(inputs: BudgetInputs, policy: BudgetsPolicy, priceTable: PriceTable): BudgetEvaluation {
  const { periods, fired } = inputs;
  const emissions = monthlyBudgetFindings(inputs.monthly, policy, periods, fired);
  let daily: DailyCheck[] = [];
  if (policy.daily_product.enabled) {
    const result = dailyProductFindings(inputs.days, policy.daily_product, periods, fired);
    emissions.push(...result.emissions);
    daily = result.checks;
  }
  if (policy.unknown_models.enabled) emissions.push(...unknownModelFindings(inputs.unpriced, priceTable, periods, fired));
  return { emissions, daily };
}
