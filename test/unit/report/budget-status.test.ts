import { describe, expect, it } from 'vitest';
import type { MonthlyBudgets } from '../../../src/budgets/budgets-policy.ts';
import { budgetStatus } from '../../../src/report/budget-status.ts';

const monthly: MonthlyBudgets = { tenant_default: 100, tenants: { acme: 1_000 }, users: { 'u-1': 10 } };

describe('budgetStatus', () => {
  it('puts spend against each scope limit, most used first, and names the highest threshold fired', () => {
    const rows = budgetStatus(
      [
        { scope_kind: 'tenant', scope_id: 'acme', cost_usd: 250 },
        { scope_kind: 'tenant', scope_id: 'globex', cost_usd: 80 },
        { scope_kind: 'user', scope_id: 'u-1', cost_usd: 12 },
        // No user_default: u-2 has no budget and is left out.
        { scope_kind: 'user', scope_id: 'u-2', cost_usd: 500 },
      ],
      [
        { scope_kind: 'user', scope_id: 'u-1', rules: ['monthly_50', 'monthly_100', 'monthly_75'] },
        // A finding without spend this month still shows (0 %).
        { scope_kind: 'tenant', scope_id: 'initech', rules: ['monthly_50'] },
      ],
      monthly,
    );
    expect(rows.map((r) => [`${r.scope_kind}:${r.scope_id}`, r.used_pct, r.fired, r.limit_from])).toEqual([
      ['user:u-1', 120, 'monthly_100', 'budgets.monthly_usd.users.u-1'],
      ['tenant:globex', 80, '', 'budgets.monthly_usd.tenant_default'],
      ['tenant:acme', 25, '', 'budgets.monthly_usd.tenants.acme'],
      ['tenant:initech', 0, 'monthly_50', 'budgets.monthly_usd.tenant_default'],
    ]);
  });

  it('is empty without any monthly limit in the policy', () => {
    expect(budgetStatus([{ scope_kind: 'tenant', scope_id: 'acme', cost_usd: 5 }], [], { tenants: {}, users: {} })).toEqual([]);
  });
});
