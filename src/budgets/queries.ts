import { z } from 'zod';
import { sqlNumber, sqlString } from '../store/sql-literal.ts';
import type { Store } from '../store/store.ts';
import type { BudgetsPolicy } from './budgets-policy.ts';
import type { DaySpend } from './daily-product.ts';
import type { BudgetInputs } from './evaluate.ts';
import { DAY_MS, type BudgetPeriods } from './periods.ts';
import type { UnpricedCalls } from './unknown-models.ts';

/**
 * What a budget check reads from ClickHouse. Every query runs on 18.16 and on current releases
 * (chdb): no query parameters (values are literals from sql-literal.ts), no newer functions.
 *
 * Spend is read from `spans FINAL` — the same deduplicated spans the `cohort_minute` and `runs`
 * rollups are computed from — summing the exact integer `cost_nusd` (1e-9 usd), so a re-delivered
 * or replayed event never counts twice and the sum does not depend on merge order. Periods are UTC
 * and bounded on `ts`, the partition key's column, so only the partitions of the period are read.
 * (`ts` is `ts_ms` in whole seconds and every bound is a whole second, so the bounds are exact.)
 */

const spendRow = z.object({ id: z.string(), nusd: z.coerce.number() });
const dayRow = z.object({ day: z.coerce.number(), events: z.coerce.number(), nusd: z.coerce.number() });
const unpricedRow = z.object({
  model: z.string(),
  day: z.coerce.number(),
  calls: z.coerce.number(),
  in_tokens: z.coerce.number(),
  out_tokens: z.coerce.number(),
  agents: z.array(z.string()),
});
const firedRow = z.object({ finding_id: z.string() });

/** At most this many agents per unknown model and day are named in its finding (the first by name; 18.16 has no groupUniqArray(N)). */
const AGENTS_SHOWN = 10;

const NUSD_PER_USD = 1e9;

/** `ts` within [fromMs, toMs): both whole seconds (UTC periods always are). */
function during(fromMs: number, toMs: number): string {
  return `ts >= toDateTime(${sqlNumber(Math.floor(fromMs / 1000))}, 'UTC') AND ts < toDateTime(${sqlNumber(Math.ceil(toMs / 1000))}, 'UTC')`;
}

/**
 * Month-to-date spend per tenant or per user. Only scopes that can have crossed a threshold are
 * returned: when no default limit is set, only the listed ids; and only spend at or above the
 * lowest threshold of the lowest limit. Null when no scope of this kind has a limit.
 */
export function monthlySpendSql(kind: 'tenant' | 'user', policy: Pick<BudgetsPolicy, 'monthly_usd' | 'thresholds'>, periods: BudgetPeriods): string | null {
  const listed = kind === 'tenant' ? policy.monthly_usd.tenants : policy.monthly_usd.users;
  const fallback = kind === 'tenant' ? policy.monthly_usd.tenant_default : policy.monthly_usd.user_default;
  const limits = [...Object.values(listed), ...(fallback === undefined ? [] : [fallback])];
  if (limits.length === 0) return null;
  const column = kind === 'tenant' ? 'tenant_id' : 'user_id';
  const floorNusd = Math.floor(Math.min(...limits) * Math.min(...policy.thresholds) * NUSD_PER_USD);
  const only = fallback === undefined ? ` AND ${column} IN (${Object.keys(listed).map(sqlString).join(', ')})` : '';
  return [
    `SELECT ${column} AS id, sum(cost_nusd) AS nusd`,
    'FROM spans FINAL',
    `WHERE ${during(periods.monthStartMs, periods.monthEndMs)}${only}`,
    'GROUP BY id',
    `HAVING nusd >= ${sqlNumber(floorNusd)}`,
  ].join('\n');
}

/** Whole-product events and spend per UTC day, from the first baseline day to the end of today. */
export function dailySpendSql(periods: BudgetPeriods): string {
  return [
    'SELECT intDiv(ts_ms, 86400000) AS day, count() AS events, sum(cost_nusd) AS nusd',
    'FROM spans FINAL',
    `WHERE ${during(periods.dailyFromMs, (periods.checkDays[1] + 1) * DAY_MS)}`,
    'GROUP BY day',
  ].join('\n');
}

/**
 * LLM calls stored at $0 without a price, per model and UTC day, over the checked days: the
 * ingest writes `cost_priced = 0` and `cost_usd = 0` when the event had no `cost_usd` and the
 * price table did not know the model (an event that reports `cost_usd: 0` looks the same; the
 * check drops models the price table knows).
 */
export function unpricedCallsSql(periods: BudgetPeriods): string {
  return [
    'SELECT model, intDiv(ts_ms, 86400000) AS day, count() AS calls,',
    `    sum(input_tokens) AS in_tokens, sum(output_tokens) AS out_tokens, arraySlice(arraySort(groupUniqArray(agent_id)), 1, ${AGENTS_SHOWN}) AS agents`,
    'FROM spans FINAL',
    `WHERE ${during(periods.checkDays[0] * DAY_MS, (periods.checkDays[1] + 1) * DAY_MS)}`,
    "    AND kind = 'llm_call' AND cost_priced = 0 AND cost_usd = 0 AND model != ''",
    'GROUP BY model, day',
    'ORDER BY day, model',
  ].join('\n');
}

/** Ids of the budget findings written since the earliest period this check can fire for. */
export function firedSql(periods: BudgetPeriods): string {
  return `SELECT DISTINCT finding_id FROM findings WHERE detector = 'budget' AND ts >= toDateTime(${sqlNumber(Math.floor(periods.firedFromMs / 1000))}, 'UTC')`;
}

/** Runs the queries of one check and shapes their rows for evaluateBudgets. */
export async function readBudgetInputs(store: Pick<Store, 'query'>, policy: BudgetsPolicy, periods: BudgetPeriods): Promise<BudgetInputs> {
  const spendOf = async (sql: string | null) => {
    const rows = sql === null ? [] : await store.query(sql, spendRow);
    return new Map(rows.map((r) => [r.id, r.nusd / NUSD_PER_USD]));
  };
  const [tenants, users, days, unpriced, fired] = await Promise.all([
    spendOf(monthlySpendSql('tenant', policy, periods)),
    spendOf(monthlySpendSql('user', policy, periods)),
    policy.daily_product.enabled ? store.query(dailySpendSql(periods), dayRow) : [],
    policy.unknown_models.enabled ? store.query(unpricedCallsSql(periods), unpricedRow) : [],
    store.query(firedSql(periods), firedRow),
  ]);
  return {
    periods,
    monthly: { tenants, users },
    days: new Map(days.map((d): [number, DaySpend] => [d.day, { events: d.events, usd: d.nusd / NUSD_PER_USD }])),
    unpriced: unpriced.map(
      (r): UnpricedCalls => ({ model: r.model, day: r.day, calls: r.calls, inputTokens: r.in_tokens, outputTokens: r.out_tokens, agents: r.agents }),
    ),
    fired: new Set(fired.map((r) => r.finding_id)),
  };
}
