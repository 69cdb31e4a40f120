import { z } from 'zod';
import type { MonthlyBudgets } from '../budgets/budgets-policy.ts';
import { budgetPeriods } from '../budgets/periods.ts';
import type { Store } from '../store/store.ts';
import { budgetStatus, type BudgetStatus } from './budget-status.ts';
import { reportSql } from './report-queries.ts';

export interface ReportOptions {
  /** Only what happened at or after this time (epoch ms). */
  sinceMs: number;
  /** Wall clock (ms): the budget month is the one it falls in (UTC). */
  nowMs: number;
  /** Rows of the long sections (spend, runaways). */
  limit: number;
  monthly: MonthlyBudgets;
}

const num = z.coerce.number();
const nullableNum = z.union([z.null(), z.coerce.number()]);

const spendRow = z.object({ day: z.string(), tenant_id: z.string(), user_id: z.string(), model: z.string(), cost_usd: num, llm_calls: num, tokens: num });
const runawayRow = z.object({
  run_id: z.string(),
  agent_id: z.string(),
  tenant_id: z.string(),
  user_id: z.string(),
  aborts: num,
  rules: z.array(z.string()),
  first_abort_ms: num,
  llm_calls: num,
  tool_calls: num,
  tokens: num,
  cost_usd: num,
});
const abortRow = z.object({ detector: z.string(), rule: z.string(), aborts: num, scopes: num, last_at_ms: num });
const driftRow = z.object({ cohort: z.string(), rule: z.string(), findings: num, first_ms: num, last_ms: num, recent_mean: num, reference_mean: nullableNum });
const judgeRow = z.object({ agent_id: z.string(), model_version: z.string(), prompt_hash: z.string(), scores: num, mean_score: num });
const budgetSpendRow = z.object({ scope_kind: z.string(), scope_id: z.string(), cost_usd: num });
const budgetFiredRow = z.object({ scope_kind: z.string(), scope_id: z.string(), rules: z.array(z.string()), last_ms: num });

/** `runwarden report`: what an operator or analyst asks first, from the store's tables and views. */
export interface Report {
  since_ms: number;
  month_start_ms: number;
  spend: Array<z.infer<typeof spendRow>>;
  runaways: Array<z.infer<typeof runawayRow>>;
  aborts: Array<z.infer<typeof abortRow>>;
  drift: Array<z.infer<typeof driftRow>>;
  judge: Array<z.infer<typeof judgeRow>>;
  budgets: BudgetStatus[];
}

/** Runs every report query (sql/queries/report) against the store, server or embedded. */
export async function buildReport(store: Store, o: ReportOptions): Promise<Report> {
  const since = { since_ms: Math.max(0, Math.floor(o.sinceMs)) };
  const month = { month_start_ms: budgetPeriods(o.nowMs, 1).monthStartMs };
  const limit = { limit: o.limit };
  // One at a time: the embedded store runs statements serially anyway, and the server is shared.
  const spend = await store.query(await reportSql('spend_by_cohort', { ...since, ...limit }), spendRow);
  const runaways = await store.query(await reportSql('top_runaways', { ...since, ...limit }), runawayRow);
  const aborts = await store.query(await reportSql('aborts_by_reason', since), abortRow);
  const drift = await store.query(await reportSql('judge_drift', since), driftRow);
  const judge = await store.query(await reportSql('judge_by_cohort', since), judgeRow);
  const budgetSpend = await store.query(await reportSql('budget_spend', month), budgetSpendRow);
  const fired = await store.query(await reportSql('budget_findings', month), budgetFiredRow);
  return {
    since_ms: since.since_ms,
    month_start_ms: month.month_start_ms,
    spend,
    runaways,
    aborts,
    drift,
    judge,
    budgets: budgetStatus(budgetSpend, fired, o.monthly),
  };
}
