import type { Scope } from '../contracts/common.ts';
import type { Throttle } from '../contracts/control.ts';
import type { Severity } from '../contracts/finding.ts';
import { commandForFinding } from '../control/commands.ts';
import { budgetFinding, budgetFindingId, formatUsd, roundUsd, type BudgetEmission } from './budget-finding.ts';
import type { BudgetsPolicy, MonthlyBudgets } from './budgets-policy.ts';
import type { BudgetPeriods } from './periods.ts';

/** Month-to-date spend (usd) per tenant and per user (a user id across every tenant, as the guard matches it). */
export interface MonthlySpend {
  tenants: ReadonlyMap<string, number>;
  users: ReadonlyMap<string, number>;
}

type BudgetScope = 'tenant' | 'user';

/** `monthly_50`, `monthly_75`, `monthly_100`: the rule of a threshold ratio. */
export const monthlyRule = (threshold: number): string => `monthly_${Math.round(threshold * 100)}`;

/** A scope's monthly limit (usd) and the policy key it came from, or undefined when it has none. */
export function monthlyLimit(kind: BudgetScope, id: string, monthly: MonthlyBudgets): { usd: number; from: string } | undefined {
  const listed = kind === 'tenant' ? monthly.tenants : monthly.users;
  const key = kind === 'tenant' ? 'tenants' : 'users';
  if (Object.hasOwn(listed, id)) return { usd: listed[id] as number, from: `budgets.monthly_usd.${key}.${id}` };
  const fallback = kind === 'tenant' ? monthly.tenant_default : monthly.user_default;
  return fallback === undefined ? undefined : { usd: fallback, from: `budgets.monthly_usd.${kind}_default` };
}

/**
 * Monthly budget findings (SPEC §3 item 5) for every tenant and user with a limit.
 *
 * Each threshold crossing fires once per scope, month and limit: the finding id is derived from
 * them, and a crossing whose id is in `fired` (read back from the `findings` table) is not
 * repeated. When spend jumps past several thresholds between two checks, only the highest one
 * fires — lower ones are then moot. The first crossing at or above 100 % also sends a `throttle`
 * on the scope, in force until the month ends (or `throttle.ttl`, never past the month end).
 * A limit changed in the policy is a new budget: its crossings fire afresh.
 */
export function monthlyBudgetFindings(
  spend: MonthlySpend,
  policy: Pick<BudgetsPolicy, 'monthly_usd' | 'thresholds' | 'throttle'>,
  periods: BudgetPeriods,
  fired: ReadonlySet<string>,
): BudgetEmission[] {
  const out: BudgetEmission[] = [];
  const scopes: Array<[BudgetScope, ReadonlyMap<string, number>]> = [
    ['tenant', spend.tenants],
    ['user', spend.users],
  ];
  for (const [kind, byId] of scopes) {
    for (const [id, spentUsd] of [...byId].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
      const limit = monthlyLimit(kind, id, policy.monthly_usd);
      if (limit === undefined) continue;
      const scope: Scope = { kind, id };
      const period = [periods.month, limit.usd];
      const top = policy.thresholds.filter((t) => spentUsd >= t * limit.usd).at(-1);
      if (top === undefined) continue;
      const firedTop = policy.thresholds.filter((t) => fired.has(budgetFindingId(monthlyRule(t), scope, period))).at(-1) ?? 0;
      if (top <= firedTop) continue;
      const throttle = policy.throttle.enabled && top >= 1 && firedTop < 1 ? throttleOf(policy.throttle) : undefined;
      const ttlMs = Math.min(policy.throttle.ttl ?? Infinity, periods.monthEndMs - periods.nowMs);
      const finding = budgetFinding({
        rule: monthlyRule(top),
        severity: severityOf(top),
        ts: periods.nowMs,
        scope,
        period,
        observed: roundUsd(spentUsd),
        threshold: roundUsd(top * limit.usd),
        details: {
          month: periods.month,
          limit_usd: limit.usd,
          limit_from: limit.from,
          spent_ratio: Math.round((spentUsd / limit.usd) * 10_000) / 10_000,
          message: message(kind, id, spentUsd, limit.usd, top, periods.month, throttle, periods.nowMs + ttlMs),
        },
        ...(throttle ? { throttle } : {}),
      });
      if (!throttle) {
        out.push({ finding });
        continue;
      }
      const command = commandForFinding(finding, { commands: { ttl: { abort: ttlMs, warn: ttlMs, throttle: ttlMs } } });
      out.push(command ? { finding, command } : { finding });
    }
  }
  return out;
}

function severityOf(threshold: number): Severity {
  if (threshold >= 1) return 'critical';
  return threshold >= 0.75 ? 'warning' : 'info';
}

function throttleOf(t: BudgetsPolicy['throttle']): Throttle {
  const out: Throttle = {};
  if (t.max_llm_calls_per_minute !== undefined) out.max_llm_calls_per_minute = t.max_llm_calls_per_minute;
  if (t.max_concurrent_runs !== undefined) out.max_concurrent_runs = t.max_concurrent_runs;
  if (t.delay_ms !== undefined) out.delay_ms = t.delay_ms;
  return out;
}

function message(kind: BudgetScope, id: string, spent: number, limit: number, threshold: number, month: string, throttle: Throttle | undefined, untilMs: number): string {
  const pct = (r: number) => `${Math.round(r * 1000) / 10} %`;
  const text =
    `${kind} ${JSON.stringify(id)} has spent ${formatUsd(spent)} of its ${formatUsd(limit)} budget for ${month} (${pct(spent / limit)}), ` +
    `past the ${pct(threshold)} threshold.`;
  if (!throttle) return text;
  const limits = [
    throttle.max_llm_calls_per_minute !== undefined ? `at most ${throttle.max_llm_calls_per_minute} LLM calls per minute` : '',
    throttle.max_concurrent_runs !== undefined ? `at most ${throttle.max_concurrent_runs} concurrent runs` : '',
    throttle.delay_ms !== undefined ? `${throttle.delay_ms} ms delay per step` : '',
  ].filter(Boolean);
  const until = new Date(untilMs).toISOString().slice(0, 16).replace('T', ' ');
  return `${text} Throttled (${limits.join(', ') || 'no limits set'}) until ${until} UTC; \`runwarden resume --${kind} ${id}\` lifts it.`;
}
