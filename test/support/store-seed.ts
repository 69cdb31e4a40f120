import { controlCommandSchema, type ControlCommand } from '../../src/contracts/control.ts';
import { findingSchema, type Finding } from '../../src/contracts/finding.ts';
import { spanEventSchema, type SpanEvent } from '../../src/contracts/span.ts';
import { commandToRow, dlqToRow, findingToRow, spanToRow, type CommandSource, type DlqRecord } from '../../src/store/rows.ts';

/**
 * A small fleet for the store's integration tests, small enough that every rollup and analyst
 * query result below is worked out by hand from the events (the comments show the sums).
 *
 * Day 1 is the day before yesterday (UTC), day 2 yesterday; every event is in the 10:00 hour.
 * Recent on purpose: on servers with TTL (19.6+) spans older than 90 days and DLQ rows older than
 * 30 days are dropped as they are inserted, so fixed dates would one day make every rollup empty.
 *
 * r1 support-bot/acme/u1 (v1, p1), limits 10 LLM calls / $2: two gpt-a calls ($0.01 reported,
 *    $0.02 priced), search(h1) ×3 (the last one errors), judge 0.8, ends aborted.
 * r2 support-bot/acme/u2 (v1, p1), 10:01: one gpt-b call ($0.50), fetch(a) ×3, search(h2) times
 *    out, judge 0.4, ends with error.
 * r3 research-bot/globex/u3 (v2, p2), day 2, limit 5 LLM calls: two gpt-a calls ($0.001 each),
 *    judges 1.0 and 0.5, never ends.
 * r4 support-bot/acme/u1 (no attrs), 10:02: search(h9) ×4, a side effect, ends aborted.
 */
export const DAY = 86_400_000;
export const T0 = Math.floor(Date.now() / DAY) * DAY - 2 * DAY + 10 * 3_600_000;
/** `YYYY-MM-DD` (UTC), as ClickHouse prints a Date. */
export const dayOf = (ms: number): string => new Date(ms).toISOString().slice(0, 10);
/** `YYYY-MM-DD hh:mm:ss` (UTC), as ClickHouse prints a DateTime('UTC'). */
export const dateTimeOf = (ms: number): string => new Date(ms).toISOString().slice(0, 19).replace('T', ' ');
const DAY1 = dayOf(T0);
const DAY2 = dayOf(T0 + DAY);
const INGESTED_AT = T0 + 3_600_000;

interface SeedSpan {
  event: SpanEvent;
  /** Price-table cost (usd) for an LLM call that reports none. */
  priced?: number;
}

const identities = {
  r1: { agent_id: 'support-bot', tenant_id: 'acme', user_id: 'u1' },
  r2: { agent_id: 'support-bot', tenant_id: 'acme', user_id: 'u2' },
  r3: { agent_id: 'research-bot', tenant_id: 'globex', user_id: 'u3' },
  r4: { agent_id: 'support-bot', tenant_id: 'acme', user_id: 'u1' },
} as const;
type RunId = keyof typeof identities;

// Quotes, backslashes and non-ASCII in attrs exercise the JSONEachRow insert path on both engines.
const attrsV1 = { model_version: 'v1', prompt_hash: 'p1', plan_tier: 'free', note: `it's "naïve" \\ 😀` };
const attrsV2 = { model_version: 'v2', prompt_hash: 'p2', region: 'eu' };

let sequence = 0;
function span(run: RunId, ts: number, fields: Record<string, unknown>, priced?: number): SeedSpan {
  sequence += 1;
  const event = spanEventSchema.parse({
    schema: 'runwarden.span/v1',
    event_id: `${run}-e${String(sequence).padStart(2, '0')}`,
    ts,
    run_id: run,
    span_id: `${run}-s${sequence}`,
    ...(fields['kind'] === 'run_start' ? {} : { parent_span_id: `${run}-root` }),
    ...identities[run],
    ...fields,
  });
  return priced === undefined ? { event } : { event, priced };
}

const tool = (name: string, args_hash: string, status: string) => ({ kind: 'tool_call', tool: { name, args_hash, status, duration_ms: 12.5 } });

export const seedSpans: readonly SeedSpan[] = [
  span('r1', T0, { kind: 'run_start', attrs: attrsV1, limits: { max_llm_calls: 10, max_cost_usd: 2 } }),
  span('r1', T0 + 1_000, { kind: 'llm_call', attrs: attrsV1, llm: { model: 'gpt-a', input_tokens: 100, output_tokens: 20, cached_tokens: 5, cost_usd: 0.01, latency_ms: 850 } }),
  span('r1', T0 + 2_000, { kind: 'llm_call', attrs: attrsV1, llm: { model: 'gpt-a', input_tokens: 200, output_tokens: 30 } }, 0.02),
  span('r1', T0 + 3_000, tool('search', 'h1', 'ok')),
  span('r1', T0 + 4_000, tool('search', 'h1', 'ok')),
  span('r1', T0 + 5_000, { kind: 'tool_call', tool: { name: 'search', args_hash: 'h1', status: 'error', error_type: 'HTTP 500' } }),
  span('r1', T0 + 6_000, { kind: 'judge_score', attrs: attrsV1, judge: { score: 0.8, rubric: 'helpful', judge_model: 'judge-1' } }),
  span('r1', T0 + 7_000, { kind: 'run_end', status: 'aborted' }),

  span('r2', T0 + 60_000, { kind: 'run_start', attrs: attrsV1 }),
  span('r2', T0 + 61_000, { kind: 'llm_call', attrs: attrsV1, llm: { model: 'gpt-b', input_tokens: 1_000, output_tokens: 500, cost_usd: 0.5 } }),
  span('r2', T0 + 62_000, tool('fetch', 'a', 'ok')),
  span('r2', T0 + 63_000, tool('fetch', 'a', 'ok')),
  span('r2', T0 + 64_000, tool('fetch', 'a', 'ok')),
  span('r2', T0 + 65_000, tool('search', 'h2', 'timeout')),
  span('r2', T0 + 66_000, { kind: 'judge_score', attrs: attrsV1, judge: { score: 0.4 } }),
  span('r2', T0 + 67_000, { kind: 'run_end', status: 'error' }),

  span('r3', T0 + DAY, { kind: 'run_start', attrs: attrsV2, limits: { max_llm_calls: 5 } }),
  span('r3', T0 + DAY + 1_000, { kind: 'llm_call', attrs: attrsV2, llm: { model: 'gpt-a', input_tokens: 10, output_tokens: 5, cost_usd: 0.001 } }),
  span('r3', T0 + DAY + 2_000, { kind: 'llm_call', attrs: attrsV2, llm: { model: 'gpt-a', input_tokens: 10, output_tokens: 5, cost_usd: 0.001 } }),
  span('r3', T0 + DAY + 3_000, { kind: 'judge_score', attrs: attrsV2, judge: { score: 1 } }),
  span('r3', T0 + DAY + 4_000, { kind: 'judge_score', attrs: attrsV2, judge: { score: 0.5 } }),

  span('r4', T0 + 120_000, { kind: 'run_start' }),
  span('r4', T0 + 121_000, tool('search', 'h9', 'ok')),
  span('r4', T0 + 122_000, tool('search', 'h9', 'ok')),
  span('r4', T0 + 123_000, tool('search', 'h9', 'ok')),
  span('r4', T0 + 124_000, tool('search', 'h9', 'ok')),
  span('r4', T0 + 124_500, { kind: 'side_effect', tool: { name: 'send_email', status: 'ok', sensitive: true } }),
  span('r4', T0 + 125_000, { kind: 'run_end', status: 'aborted' }),
];

/** `spans` rows as the ingest consumer writes them; `ingestedAtMs` differs on a re-delivery. */
export function seedSpanRows(ingestedAtMs = INGESTED_AT) {
  return seedSpans.map(({ event, priced }, offset) =>
    spanToRow(event, { partition: 0, offset, ingestedAtMs, ...(priced !== undefined ? { pricedCostUsd: priced } : {}) }),
  );
}

function command(
  id: string,
  issuedAt: number,
  action: string,
  scope: { kind: string; id: string },
  detector: string,
  rule: string,
  observed = 6,
): ControlCommand {
  return controlCommandSchema.parse({
    schema: 'runwarden.control/v1',
    command_id: id,
    issued_at: issuedAt,
    action,
    scope,
    reason: { detector, rule, observed, threshold: 5, finding_id: `f-${id}` },
    signature: '0'.repeat(64),
  });
}

export const seedCommands: ReadonlyArray<{ command: ControlCommand; source: CommandSource; operator?: string }> = [
  { command: command('c1', T0 + 5_000, 'abort', { kind: 'run', id: 'r1' }, 'tool-loop', 'same-args'), source: 'pipeline' },
  { command: command('c2', T0 + 124_000, 'abort', { kind: 'run', id: 'r4' }, 'tool-loop', 'same-args'), source: 'pipeline' },
  // A second abort of r4, observed 7: the investigation queue shows the first one (c2, observed 6).
  { command: command('c3', T0 + 124_500, 'abort', { kind: 'run', id: 'r4' }, 'tool-loop', 'same-args', 7), source: 'pipeline' },
  { command: command('c4', T0 + 200_000, 'abort', { kind: 'user', id: 'u9' }, 'operator', 'manual'), source: 'operator', operator: 'alice' },
  // Not aborts: left out of aborts_by_reason.
  { command: command('c5', T0 + 1_500, 'warn', { kind: 'run', id: 'r1' }, 'step-cap', 'llm_calls'), source: 'pipeline' },
  { command: command('c6', T0 + 61_000, 'throttle', { kind: 'user', id: 'u2' }, 'cost-spike', 'spend-per-minute'), source: 'pipeline' },
];

export function seedCommandRows() {
  return seedCommands.map(({ command: c, source, operator }) => commandToRow(c, operator === undefined ? { source } : { source, operator }));
}

export const seedFindings: readonly Finding[] = [
  findingSchema.parse({
    schema: 'runwarden.finding/v1',
    finding_id: 'f-c1',
    ts: T0 + 5_000,
    detector: 'tool-loop',
    rule: 'same-args',
    severity: 'critical',
    scope: { kind: 'run', id: 'r1' },
    observed: 6,
    threshold: 5,
    details: { tool: 'search', args_hash: 'h1' },
  }),
  findingSchema.parse({
    schema: 'runwarden.finding/v1',
    finding_id: 'f-drift',
    ts: T0 + DAY + 4_000,
    detector: 'judge-drift',
    rule: 'abrupt-drop',
    severity: 'warning',
    scope: { kind: 'cohort', id: 'research-bot|v2|p2' },
    cohort: { prompt_hash: 'p2', agent_id: 'research-bot', model_version: 'v2' },
    observed: 0.75,
    threshold: 0.8,
    baseline: 0.9,
  }),
];

export function seedFindingRows() {
  return seedFindings.map(findingToRow);
}

const dlq = (tsMs: number, topic: string, partition: number, offset: number, reason: string, value: DlqRecord['value']): DlqRecord => ({
  tsMs,
  reason,
  message: `${reason} at ${offset}`,
  topic,
  partition,
  offset: String(offset),
  value,
});

export const seedDlq: readonly DlqRecord[] = [
  dlq(T0 + 10, 'agent.spans', 0, 100, 'invalid_json', 'not json'), // 8 bytes
  dlq(T0 + 20, 'agent.spans', 0, 101, 'invalid_json', '{'), // 1 byte
  dlq(T0 + 30, 'agent.spans', 1, 7, 'schema_violation', '{"a":true}'), // 10 bytes
  dlq(T0 + 40, 'agent.spans.v2', 0, 1, 'unknown_version', 'xyz'), // 3 bytes
  dlq(T0 + DAY, 'agent.spans', 0, 102, 'invalid_json', new Uint8Array([0xff, 0xfe, 0x00])), // 3 bytes, not UTF-8
];

/** `dlq_events` rows; a message re-delivered after a crash is rejected again a little later. */
export function seedDlqRows(delayMs = 0) {
  return seedDlq.map((record) => dlqToRow({ ...record, tsMs: record.tsMs + delayMs }));
}

/** Expected `runs` rows (the view), by hand from the events above. */
export const expectedRuns = [
  {
    run_id: 'r1', agent_id: 'support-bot', tenant_id: 'acme', user_id: 'u1', model_version: 'v1', prompt_hash: 'p1', models: ['gpt-a'],
    first_ts_ms: T0, last_ts_ms: T0 + 7_000, duration_ms: 7_000, started_at: dateTimeOf(T0),
    // 8 events; search ×3 with one error; tokens 100+200 in, 20+30 out; $0.01 reported + $0.02 priced.
    events: 8, llm_calls: 2, tool_calls: 3, tool_failures: 1, tool_blocked: 0, errors: 1,
    input_tokens: 300, output_tokens: 50, cached_tokens: 5, tokens: 350, cost_nusd: 30_000_000, cost_usd: 0.03,
    judge_count: 1, min_judge_score: 0.8, max_judge_score: 0.8, avg_judge_score: 0.8, ended: 1, status: 'aborted',
    limit_max_llm_calls: 10, limit_max_tool_calls: null, limit_max_tokens: null, limit_max_cost_usd: 2,
  },
  {
    run_id: 'r2', agent_id: 'support-bot', tenant_id: 'acme', user_id: 'u2', model_version: 'v1', prompt_hash: 'p1', models: ['gpt-b'],
    first_ts_ms: T0 + 60_000, last_ts_ms: T0 + 67_000, duration_ms: 7_000, started_at: dateTimeOf(T0 + 60_000),
    // errors: the search timeout + the run_end with status error.
    events: 8, llm_calls: 1, tool_calls: 4, tool_failures: 1, tool_blocked: 0, errors: 2,
    input_tokens: 1_000, output_tokens: 500, cached_tokens: 0, tokens: 1_500, cost_nusd: 500_000_000, cost_usd: 0.5,
    judge_count: 1, min_judge_score: 0.4, max_judge_score: 0.4, avg_judge_score: 0.4, ended: 1, status: 'error',
    limit_max_llm_calls: null, limit_max_tool_calls: null, limit_max_tokens: null, limit_max_cost_usd: null,
  },
  {
    run_id: 'r3', agent_id: 'research-bot', tenant_id: 'globex', user_id: 'u3', model_version: 'v2', prompt_hash: 'p2', models: ['gpt-a'],
    first_ts_ms: T0 + DAY, last_ts_ms: T0 + DAY + 4_000, duration_ms: 4_000, started_at: dateTimeOf(T0 + DAY),
    // Never ended: status ''. Judges 1.0 and 0.5: mean 0.75.
    events: 5, llm_calls: 2, tool_calls: 0, tool_failures: 0, tool_blocked: 0, errors: 0,
    input_tokens: 20, output_tokens: 10, cached_tokens: 0, tokens: 30, cost_nusd: 2_000_000, cost_usd: 0.002,
    judge_count: 2, min_judge_score: 0.5, max_judge_score: 1, avg_judge_score: 0.75, ended: 0, status: '',
    limit_max_llm_calls: 5, limit_max_tool_calls: null, limit_max_tokens: null, limit_max_cost_usd: null,
  },
  {
    run_id: 'r4', agent_id: 'support-bot', tenant_id: 'acme', user_id: 'u1', model_version: '', prompt_hash: '', models: [],
    first_ts_ms: T0 + 120_000, last_ts_ms: T0 + 125_000, duration_ms: 5_000, started_at: dateTimeOf(T0 + 120_000),
    // The side effect is an event but not a tool call. No judge score: NULL scores.
    events: 7, llm_calls: 0, tool_calls: 4, tool_failures: 0, tool_blocked: 0, errors: 0,
    input_tokens: 0, output_tokens: 0, cached_tokens: 0, tokens: 0, cost_nusd: 0, cost_usd: 0,
    judge_count: 0, min_judge_score: null, max_judge_score: null, avg_judge_score: null, ended: 1, status: 'aborted',
    limit_max_llm_calls: null, limit_max_tool_calls: null, limit_max_tokens: null, limit_max_cost_usd: null,
  },
];

/**
 * Expected result of every sql/queries/*.sql over the seed, row by row in the query's order,
 * each row as its columns' values in SELECT order. A query without an entry here fails the test.
 */
export const expectedQueryResults: Record<string, unknown[][]> = {
  // abort commands: tool-loop c1 (r1), c2 + c3 (r4) → 3 aborts over 2 runs; operator c4 → 1.
  aborts_by_reason: [
    ['tool-loop', 'same-args', 'pipeline', 3, 2, T0 + 5_000, T0 + 124_500],
    ['operator', 'manual', 'operator', 1, 1, T0 + 200_000, T0 + 200_000],
  ],
  // day 1: invalid_json 8 + 1 bytes; schema_violation 10; unknown_version 3. day 2: 3 bytes.
  dlq_by_reason: [
    [DAY1, 'agent.spans', 'invalid_json', 2, 9],
    [DAY1, 'agent.spans', 'schema_violation', 1, 10],
    [DAY1, 'agent.spans.v2', 'unknown_version', 1, 3],
    [DAY2, 'agent.spans', 'invalid_json', 1, 3],
  ],
  // support-bot v1 p1: 0.8, 0.4 → mean 0.6, variance (0.64 + 0.16)/2 − 0.36 = 0.04 → sd 0.2.
  // research-bot v2 p2: 1.0, 0.5 → mean 0.75, variance (1 + 0.25)/2 − 0.5625 = 0.0625 → sd 0.25.
  judge_by_cohort: [
    [dateTimeOf(T0), 'support-bot', 'v1', 'p1', 2, 0.6, 0.2],
    [dateTimeOf(T0 + DAY), 'research-bot', 'v2', 'p2', 2, 0.75, 0.25],
  ],
  // Runs with an abort command, newest first abort first: r4 (c2 at +124 s; c3 came later), r1
  // (c1 at +5 s), with their totals from runs. The user-scoped abort c4 is no run's.
  investigation_queue: [
    ['r4', T0 + 124_000, 'tool-loop', 'same-args', 6, 5, 'support-bot', 'acme', 'u1', 0, 4, 0, 0, 'aborted'],
    ['r1', T0 + 5_000, 'tool-loop', 'same-args', 6, 5, 'support-bot', 'acme', 'u1', 2, 3, 350, 0.03, 'aborted'],
  ],
  // search: r1 h1 ×3 and r4 h9 ×4, both aborted; fetch: r2 a ×3, ended with error. r2's single
  // search(h2) is no loop.
  loops_by_tool: [
    ['search', 2, 7, 4, 2],
    ['fetch', 1, 3, 3, 0],
  ],
  spend_by_day: [
    [DAY1, 'acme', 'u2', 'gpt-b', 0.5, 1_000, 500, 1],
    [DAY1, 'acme', 'u1', 'gpt-a', 0.03, 300, 50, 2],
    [DAY2, 'globex', 'u3', 'gpt-a', 0.002, 20, 10, 2],
  ],
  // By cost: r2 $0.50, r1 $0.03, r3 $0.002, r4 $0.
  top_runaway_runs: [
    ['r2', 'support-bot', 'acme', 'u2', 0.5, 1_500, 1, 4, 2, 7_000, 'error', null, null, T0 + 60_000],
    ['r1', 'support-bot', 'acme', 'u1', 0.03, 350, 2, 3, 1, 7_000, 'aborted', 10, 2, T0],
    ['r3', 'research-bot', 'globex', 'u3', 0.002, 30, 2, 0, 0, 4_000, '', 5, null, T0 + DAY],
    ['r4', 'support-bot', 'acme', 'u1', 0, 0, 0, 4, 0, 5_000, 'aborted', null, null, T0 + 120_000],
  ],
};
