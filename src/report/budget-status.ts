import type { MonthlyBudgets } from '../budgets/budgets-policy.ts';
import { monthlyLimit } from '../budgets/monthly.ts';

export interface ScopeSpend {
  scope_kind: string;
  scope_id: string;
  cost_usd: number;
}

export interface FiredBudget {
  scope_kind: string;
  scope_id: string;
  /** Rules fired this month, oldest first (monthly_50, monthly_75, monthly_100). */
  rules: string[];
}

/** One scope's month so far against its limit. */
export interface BudgetStatus {
  scope_kind: 'tenant' | 'user';
  scope_id: string;
  spend_usd: number;
  limit_usd: number;
  /** spend / limit, in % (one decimal). */
  used_pct: number;
  /** The highest threshold fired this month ('' when none), e.g. monthly_75. */
  fired: string;
  /** The policy key the limit comes from. */
  limit_from: string;
}

const pct = (rule: string) => Number(/^monthly_(\d+)$/.exec(rule)?.[1] ?? -1);

/**
 * The budget status of every tenant and user that has a monthly limit and spent this month (or
 * has a finding): spend against limit, most used first. Scopes without a limit are left out:
 * `budgets.monthly_usd` decides which scopes have a budget.
 */
export function budgetStatus(spend: readonly ScopeSpend[], fired: readonly FiredBudget[], monthly: MonthlyBudgets): BudgetStatus[] {
  const firedBy = new Map(fired.map((f) => [`${f.scope_kind}:${f.scope_id}`, f.rules.filter((r) => pct(r) >= 0).sort((a, b) => pct(b) - pct(a))[0] ?? '']));
  const spendBy = new Map(spend.map((s) => [`${s.scope_kind}:${s.scope_id}`, s.cost_usd]));
  const keys = new Set([...spendBy.keys(), ...firedBy.keys()]);
  const out: BudgetStatus[] = [];
  for (const key of keys) {
    const at = key.indexOf(':');
    const kind = key.slice(0, at);
    const id = key.slice(at + 1);
    if (kind !== 'tenant' && kind !== 'user') continue;
    const limit = monthlyLimit(kind, id, monthly);
    if (!limit) continue;
    const usd = spendBy.get(key) ?? 0;
    out.push({
      scope_kind: kind,
      scope_id: id,
      spend_usd: usd,
      limit_usd: limit.usd,
      used_pct: Math.round((usd / limit.usd) * 1000) / 10,
      fired: firedBy.get(key) ?? '',
      limit_from: limit.from,
    });
  }
  return out.sort((a, b) => b.used_pct - a.used_pct || a.scope_kind.localeCompare(b.scope_kind) || a.scope_id.localeCompare(b.scope_id));
}
