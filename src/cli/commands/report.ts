import type { Command } from 'commander';
import { parseDurationMs } from '../../policy/duration.ts';
import { buildReport, type Report } from '../../report/build-report.ts';
import { migrate } from '../../store/migrate.ts';
import { createContext, loadConfiguredPolicy, openConfiguredStore } from '../context.ts';
import { CliError, EXIT } from '../exit-codes.ts';
import { renderTable } from '../table.ts';

interface ReportOptions {
  since: string;
  limit: string;
  json?: boolean;
  policy?: string;
}

export function registerReport(program: Command, env: Record<string, string | undefined>): void {
  program
    .command('report')
    .description('cohort spend, top runaway runs, aborts by reason, judge drift by cohort and budget status, from ClickHouse (server or embedded)')
    .option('--since <when>', 'how far back: a duration (30m, 24h, 7d) or an ISO-8601 date-time', '7d')
    .option('--limit <n>', 'rows of the spend and runaway sections', '20')
    .option('--json', 'print the report as one JSON object (times in epoch ms)')
    .option('--policy <file>', 'policy file for the budget limits; default RUNWARDEN_POLICY, else built-in defaults (no limits)')
    .addHelpText(
      'after',
      `
Each section is one query in sql/queries/report/ (runwarden sql --list shows the question each
answers; run one alone with: runwarden sql -q report/top_runaways --param since_ms=0 --param limit=50).
Budget status compares this month's (UTC) spend with budgets.monthly_usd of the policy.

Examples:
  npx runwarden report                       # the last 7 days, as tables
  npx runwarden report --since 24h --limit 50
  npx runwarden report --since 2026-11-01T00:00:00Z --json | jq '.runaways[0]'
  CLICKHOUSE_URL=http://clickhouse:8123 npx runwarden report --since 1d`,
    )
    .action(async (opts: ReportOptions) => {
      const ctx = createContext(env);
      const nowMs = Date.now();
      const sinceMs = parseSince(opts.since, nowMs);
      const limit = Number(opts.limit);
      if (!Number.isInteger(limit) || limit < 1 || limit > 10_000) throw new CliError(`--limit must be a whole number from 1 to 10000 (got ${opts.limit})`, EXIT.usage);
      const policy = await loadConfiguredPolicy(ctx, opts.policy);
      const store = await openConfiguredStore(ctx);
      try {
        // Idempotent: a fresh embedded store gets its (empty) tables instead of an "unknown table" error.
        await migrate(store);
        const report = await buildReport(store, { sinceMs, nowMs, limit, monthly: policy.budgets.monthly_usd });
        if (opts.json) process.stdout.write(`${JSON.stringify(report)}\n`);
        else process.stdout.write(renderReport(report, `${store.kind === 'server' ? 'ClickHouse server' : 'embedded ClickHouse (chdb)'} ${store.version.text}, database ${store.database}`, opts.since));
      } finally {
        await store.close();
      }
    });
}

/** `--since`: a duration back from now, or an absolute ISO-8601 time. */
export function parseSince(text: string, nowMs: number): number {
  const duration = parseDurationMs(text);
  if (duration !== undefined && duration > 0) return nowMs - duration;
  const at = /^\d{4}-\d{2}-\d{2}/.test(text) ? Date.parse(text) : Number.NaN;
  if (Number.isFinite(at)) return at;
  throw new CliError(`--since: "${text}" is neither a duration (30m, 24h, 7d) nor an ISO-8601 date-time (2026-11-01T00:00:00Z)`, EXIT.usage);
}

const iso = (ms: number) => new Date(ms).toISOString().slice(0, 16).replace('T', ' ');
const usd = (n: number) => `$${n.toFixed(n >= 100 ? 2 : 4)}`;

function renderReport(r: Report, where: string, since: string): string {
  const section = (title: string, rows: ReadonlyArray<Record<string, unknown>>, empty: string) => `${title}\n${rows.length ? renderTable(rows) : `  (${empty})\n`}`;
  const out = [
    `runwarden report — since ${iso(r.since_ms)} UTC (${since}); ${where}\n`,
    section('Spend by tenant, user, model and day (UTC), costliest first', r.spend.map((s) => ({ ...s, cost_usd: usd(s.cost_usd) })), 'no LLM spend in the period'),
    section(
      'Top runaway runs (aborted), costliest first',
      r.runaways.map((x) => ({ run_id: x.run_id, agent: x.agent_id, tenant: x.tenant_id, user: x.user_id, aborts: x.aborts, rules: x.rules.join(','), first_abort: iso(x.first_abort_ms), llm_calls: x.llm_calls, tool_calls: x.tool_calls, tokens: x.tokens, cost_usd: usd(x.cost_usd) })),
      'no run was aborted',
    ),
    section('Aborts by reason', r.aborts.map((a) => ({ detector: a.detector, rule: a.rule, aborts: a.aborts, scopes: a.scopes, last: iso(a.last_at_ms) })), 'no aborts'),
    section(
      'Judge drift by cohort (findings)',
      r.drift.map((d) => ({ cohort: d.cohort, rule: d.rule, findings: d.findings, last: iso(d.last_ms), recent_mean: d.recent_mean.toFixed(3), reference_mean: d.reference_mean === null ? '–' : d.reference_mean.toFixed(3) })),
      'no judge-drift findings',
    ),
    section('Judge score by cohort, lowest first', r.judge.map((j) => ({ ...j, mean_score: j.mean_score.toFixed(3) })), 'no judge scores in the period'),
    section(
      `Budget status, month from ${iso(r.month_start_ms).slice(0, 10)} (UTC)`,
      r.budgets.map((b) => ({ scope: `${b.scope_kind}:${b.scope_id}`, spend: usd(b.spend_usd), limit: usd(b.limit_usd), used: `${b.used_pct}%`, fired: b.fired || '–', limit_from: b.limit_from })),
      'no scope with a monthly budget: set budgets.monthly_usd in the policy file',
    ),
  ];
  return out.join('\n');
}
