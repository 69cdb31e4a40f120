import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MonthlyBudgets } from '../../src/budgets/budgets-policy.ts';
import { findingSchema } from '../../src/contracts/finding.ts';
import { buildReport, type Report } from '../../src/report/build-report.ts';
import { findingToRow } from '../../src/store/rows.ts';
import { migrate } from '../../src/store/migrate.ts';
import type { Store } from '../../src/store/store.ts';
import { storeEngines } from '../support/store-engines.ts';
import { DAY, dayOf, seedCommandRows, seedDlqRows, seedFindingRows, seedSpanRows, T0 } from '../support/store-seed.ts';

/** Budget findings of this month on top of the seed: acme at 50 %, u2 at 50 % then 100 %. */
const budgetFinding = (id: string, ts: number, kind: 'tenant' | 'user', scopeId: string, rule: string) =>
  findingToRow(
    findingSchema.parse({
      schema: 'runwarden.finding/v1',
      finding_id: id,
      ts,
      detector: 'budget',
      rule,
      severity: 'warning',
      scope: { kind, id: scopeId },
      observed: 1,
      threshold: 1,
    }),
  );

// Limits: every tenant $1, user u2 $0.25 (other users have none).
const monthly: MonthlyBudgets = { tenant_default: 1, tenants: {}, users: { u2: 0.25 } };
const ALL = T0 - 1;

/** Fractions rounded to 9 places: sums of floats such as 0.03 + 0.5 print with a tail. */
const round = (r: Report) => JSON.parse(JSON.stringify(r, (_, v: unknown) => (typeof v === 'number' && !Number.isInteger(v) ? Math.round(v * 1e9) / 1e9 : v))) as Report;

describe.each(storeEngines('rw_report'))('runwarden report ($name)', ({ open }) => {
  let store: Store;
  let dispose: () => Promise<void>;

  beforeAll(async () => {
    ({ store, dispose } = await open());
    await migrate(store);
    await store.insert('spans', seedSpanRows());
    await store.insert('findings', [
      ...seedFindingRows(),
      budgetFinding('b1', T0 + 1_000, 'tenant', 'acme', 'monthly_50'),
      budgetFinding('b2', T0 + 61_000, 'user', 'u2', 'monthly_50'),
      budgetFinding('b3', T0 + 62_000, 'user', 'u2', 'monthly_100'),
    ]);
    await store.insert('control_commands', seedCommandRows());
    await store.insert('dlq_events', seedDlqRows());
  });

  afterAll(async () => {
    await dispose();
  });

  // nowMs = T0: the budget month is T0's, and every seeded span is at or after its start.
  const report = async (sinceMs: number, limit = 20) => round(await buildReport(store, { sinceMs, nowMs: T0, limit, monthly }));

  it('answers every section over the whole seed, worked out by hand', async () => {
    const r = await report(ALL);
    expect(r.spend).toEqual([
      { day: dayOf(T0 + DAY), tenant_id: 'globex', user_id: 'u3', model: 'gpt-a', cost_usd: 0.002, llm_calls: 2, tokens: 30 },
      { day: dayOf(T0), tenant_id: 'acme', user_id: 'u2', model: 'gpt-b', cost_usd: 0.5, llm_calls: 1, tokens: 1_500 },
      { day: dayOf(T0), tenant_id: 'acme', user_id: 'u1', model: 'gpt-a', cost_usd: 0.03, llm_calls: 2, tokens: 350 },
    ]);
    // Run aborts: c1 (r1), c2 and c3 (r4); the user-scoped operator abort c4 is no run's. By cost: r1 $0.03, r4 $0.
    expect(r.runaways).toEqual([
      { run_id: 'r1', agent_id: 'support-bot', tenant_id: 'acme', user_id: 'u1', aborts: 1, rules: ['tool-loop/same-args'], first_abort_ms: T0 + 5_000, llm_calls: 2, tool_calls: 3, tokens: 350, cost_usd: 0.03 },
      { run_id: 'r4', agent_id: 'support-bot', tenant_id: 'acme', user_id: 'u1', aborts: 2, rules: ['tool-loop/same-args'], first_abort_ms: T0 + 124_000, llm_calls: 0, tool_calls: 4, tokens: 0, cost_usd: 0 },
    ]);
    expect(r.aborts).toEqual([
      { detector: 'tool-loop', rule: 'same-args', aborts: 3, scopes: 2, last_at_ms: T0 + 124_500 },
      { detector: 'operator', rule: 'manual', aborts: 1, scopes: 1, last_at_ms: T0 + 200_000 },
    ]);
    expect(r.drift).toEqual([{ cohort: 'research-bot|v2|p2', rule: 'abrupt-drop', findings: 1, first_ms: T0 + DAY + 4_000, last_ms: T0 + DAY + 4_000, recent_mean: 0.75, reference_mean: 0.9 }]);
    // support-bot v1/p1: 0.8 and 0.4; research-bot v2/p2: 1.0 and 0.5. Lowest mean first.
    expect(r.judge).toEqual([
      { agent_id: 'support-bot', model_version: 'v1', prompt_hash: 'p1', scores: 2, mean_score: 0.6 },
      { agent_id: 'research-bot', model_version: 'v2', prompt_hash: 'p2', scores: 2, mean_score: 0.75 },
    ]);
    // acme $0.53 of $1 (fired 50 %), globex $0.002 of $1, u2 $0.50 of $0.25 (fired 50 % then 100 %); u1, u3 have no budget.
    expect(r.budgets).toEqual([
      { scope_kind: 'user', scope_id: 'u2', spend_usd: 0.5, limit_usd: 0.25, used_pct: 200, fired: 'monthly_100', limit_from: 'budgets.monthly_usd.users.u2' },
      { scope_kind: 'tenant', scope_id: 'acme', spend_usd: 0.53, limit_usd: 1, used_pct: 53, fired: 'monthly_50', limit_from: 'budgets.monthly_usd.tenant_default' },
      { scope_kind: 'tenant', scope_id: 'globex', spend_usd: 0.002, limit_usd: 1, used_pct: 0.2, fired: '', limit_from: 'budgets.monthly_usd.tenant_default' },
    ]);
  });

  it('leaves out what happened before --since, and keeps --limit rows', async () => {
    const day2 = await report(T0 + DAY);
    expect(day2.spend.map((s) => s.user_id)).toEqual(['u3']);
    expect(day2.runaways).toEqual([]);
    expect(day2.aborts).toEqual([]);
    expect(day2.drift.map((d) => d.cohort)).toEqual(['research-bot|v2|p2']);
    expect(day2.judge.map((j) => j.agent_id)).toEqual(['research-bot']);
    // Budgets are by calendar month, whatever --since says.
    expect(day2.budgets.map((b) => b.scope_id)).toEqual(['u2', 'acme', 'globex']);

    const late = await report(T0 + 120_000, 1);
    expect(late.runaways.map((x) => [x.run_id, x.aborts])).toEqual([['r4', 2]]);
    // c2 and c3 (r4, at +124 s) and the operator's c4; c1 (+5 s) is before.
    expect(late.aborts.map((a) => [a.detector, a.aborts])).toEqual([['tool-loop', 2], ['operator', 1]]);
    expect(late.spend).toHaveLength(1);
  });
});
