import type { DemoTruth } from './demo-fleet.ts';
import { fmt, type DemoSummary } from './demo-tally.ts';

/**
 * What an analyst runs after the demo, ready to paste into `runwarden sql "…"` (unqualified
 * tables resolve to the configured database; every one runs on ClickHouse 18.16 and on chdb).
 */
export const DEMO_NEXT_SQL: ReadonlyArray<{ question: string; sql: string }> = [
  {
    question: 'which rules aborted runs, and how often?',
    sql: "SELECT reason_detector AS detector, reason_rule AS rule, count() AS aborts, uniqExact(scope_id) AS runs FROM control_commands FINAL WHERE action = 'abort' GROUP BY detector, rule ORDER BY aborts DESC",
  },
  {
    question: 'who spends the most, on which model?',
    sql: 'SELECT tenant_id, model, round(sum(cost_nusd) / 1000000000, 2) AS usd, sum(llm_calls) AS calls FROM cohort_minute WHERE model != \'\' GROUP BY tenant_id, model ORDER BY usd DESC LIMIT 10',
  },
  {
    question: 'which cohorts were throttled, and why?',
    sql: "SELECT scope_id AS cohort, reason_rule AS rule, round(reason_observed, 2) AS observed, round(reason_threshold, 2) AS threshold FROM control_commands FINAL WHERE action = 'throttle' ORDER BY issued_at_ms",
  },
  {
    question: 'where did judge scores drop?',
    sql: "SELECT scope_id AS cohort, rule, round(observed, 3) AS recent_mean, round(baseline, 3) AS reference_mean FROM findings FINAL WHERE detector = 'judge-drift' ORDER BY ts_ms",
  },
];

/** How well the demo's aborts match what was injected. */
export interface DemoCatch {
  toolLoops: [caught: number, injected: number];
  stepCaps: [caught: number, injected: number];
  spendSpikes: [caught: number, injected: number];
  /** Aborted runs that were not injected runaways (false alarms). */
  unexpected: string[];
}

/** Compares the aborted runs with the ground truth. */
export function catchOf(summary: DemoSummary, truth: DemoTruth): DemoCatch {
  const aborted = new Set(summary.aborts.scopes);
  const count = (ids: readonly string[]): [number, number] => [ids.filter((id) => aborted.has(id)).length, ids.length];
  const spikes = truth.abortedRuns.filter((id) => !truth.runaways.tool_loop.includes(id) && !truth.runaways.step_cap.includes(id));
  const expected = new Set(truth.abortedRuns);
  return {
    toolLoops: count(truth.runaways.tool_loop),
    stepCaps: count(truth.runaways.step_cap),
    spendSpikes: count(spikes),
    unexpected: [...aborted].filter((id) => !expected.has(id)),
  };
}

const usd = (n: number) => `$${n.toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 })}`;
const counts = (c: Record<string, number>) =>
  Object.entries(c)
    .sort(([a, x], [b, y]) => y - x || a.localeCompare(b))
    .map(([k, v]) => `${k} ${fmt(v)}`)
    .join(', ') || 'none';

/** The end-of-demo summary a person reads: what went through, what was stopped, what was found, what it cost. */
export function renderSummary(s: DemoSummary, truth: DemoTruth, where: string, elapsedMs: number): string {
  const c = catchOf(s, truth);
  const badTotal = Object.values(s.bad).reduce((a, b) => a + b, 0);
  const tenants = Object.entries(s.spendByTenant)
    .sort(([, a], [, b]) => b - a)
    .slice(0, 3)
    .map(([t, v]) => `${t} ${usd(v)}`)
    .join(', ');
  const injected = c.toolLoops[1] + c.stepCaps[1] + c.spendSpikes[1];
  const caught = c.toolLoops[0] + c.stepCaps[0] + c.spendSpikes[0];
  const judge = truth.incidents.filter((i) => i.expected.detector === 'judge-drift').length;
  const lines = [
    '',
    `Summary — ${where}, ${(elapsedMs / 1000).toFixed(1)} s`,
    `  events     ${fmt(s.events)} of ${fmt(s.runs)} runs over ${((truth.endMs - truth.startMs) / 3_600_000).toFixed(1)} h of fleet time; ` +
      `${fmt(badTotal)} bad to the DLQ${badTotal ? ` (${counts(s.bad)})` : ''}, ${fmt(s.duplicates)} duplicate${s.duplicates === 1 ? '' : 's'} dropped`,
    `  spend      ${usd(s.spendUsd)} (top tenants: ${tenants || 'none'}); ${usd(s.spendAfterAbortUsd)} of it after an abort, which a guard would have saved`,
    `  aborts     ${fmt(s.aborts.commands)} on ${fmt(s.aborts.scopes.length)} runs: ${counts(s.aborts.byRule)}`,
    `  caught     ${caught} of ${injected} injected runaways aborted (tool loops ${c.toolLoops.join('/')}, step-cap breaches ${c.stepCaps.join('/')}, ` +
      `spend-spike runs ${c.spendSpikes.join('/')}); ${c.unexpected.length} other run${c.unexpected.length === 1 ? '' : 's'} aborted`,
    `  throttles  ${fmt(s.throttles.commands)} on ${fmt(s.throttles.scopes.length)} scopes: ${counts(s.throttles.byRule)}`,
    `  warnings   ${fmt(s.warns)}`,
    `  findings   ${counts(s.findings)}`,
    `  drift      ${s.drift.length} judge-drift finding${s.drift.length === 1 ? '' : 's'} (${judge} judge incident${judge === 1 ? '' : 's'} injected)`,
    ...s.drift.slice(0, 5).map((d) => `               ${d.rule}  ${d.cohort}: mean ${fmt(d.observed)} vs ${d.baseline === null ? '?' : fmt(d.baseline)}`),
    '',
    'Next, as an analyst (each line pastes into a shell; `runwarden sql --list` has more):',
    '  npx runwarden report --since 1d',
    '  npx runwarden sql -q investigation_queue',
    ...DEMO_NEXT_SQL.map((q) => `  # ${q.question}\n  npx runwarden sql "${q.sql}"`),
    '',
  ];
  return lines.join('\n');
}
