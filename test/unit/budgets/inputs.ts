import { BUDGETS_DEFAULTS, type BudgetsPolicy } from '../../../src/budgets/budgets-policy.ts';
import type { BudgetInputs } from '../../../src/budgets/evaluate.ts';
import { budgetPeriods, DAY_MS } from '../../../src/budgets/periods.ts';

/** 2026-11-23 15:00 UTC: a Monday in the middle of a 30-day month. */
export const NOW = Date.UTC(2026, 10, 23, 15, 0, 0);
export const TODAY = Math.floor(NOW / DAY_MS);

/** The default budgets policy with `overrides` merged one level deep. */
export function budgetsPolicy(overrides: Partial<BudgetsPolicy> = {}): BudgetsPolicy {
  return { ...BUDGETS_DEFAULTS, ...overrides };
}

/** Inputs of a check at `nowMs`: no spend, no history, nothing fired, unless given. */
export function inputs(o: Partial<Omit<BudgetInputs, 'periods'>> & { nowMs?: number; baselineDays?: number } = {}): BudgetInputs {
  return {
    periods: budgetPeriods(o.nowMs ?? NOW, o.baselineDays ?? 7),
    monthly: o.monthly ?? { tenants: new Map(), users: new Map() },
    days: o.days ?? new Map(),
    unpriced: o.unpriced ?? [],
    fired: o.fired ?? new Set(),
  };
}

/** Month-to-date spend maps from plain objects. */
export const spend = (tenants: Record<string, number>, users: Record<string, number> = {}) => ({
  tenants: new Map(Object.entries(tenants)),
  users: new Map(Object.entries(users)),
});
