import { canonicalJson } from '../contracts/canonical.ts';
import type { ControlCommand } from '../contracts/control.ts';
import type { Finding } from '../contracts/finding.ts';
import type { SpanEvent } from '../contracts/span.ts';

/**
 * Pure mappers from the wire shapes (SPEC §1–§3) to the column layout of sql/migrations.
 * Absent optional values become the column default ('' / 0) or NULL where "absent" must stay
 * distinguishable (judge score, limits, baseline, expiry). `ts`-style DateTime columns and the
 * exact integer sums (`cost_nusd`, `judge_score_micro`) are MATERIALIZED by the server from these
 * values, so they are not in the rows.
 */

/** Where a span row came from. */
export interface SpanRowMeta {
  partition: number;
  offset: number;
  /** Wall-clock ms when the consumer wrote the row. */
  ingestedAtMs: number;
  /** usd from the price table, used when the event reports no `llm.cost_usd`. */
  pricedCostUsd?: number;
}

/** One `spans` row for a validated span event. */
export function spanToRow(event: SpanEvent, meta: SpanRowMeta) {
  const attrs = event.attrs ?? {};
  const keys = Object.keys(attrs).sort();
  const llm = event.kind === 'llm_call' ? event.llm : undefined;
  const tool = event.kind === 'tool_call' || event.kind === 'side_effect' ? event.tool : undefined;
  const judge = event.kind === 'judge_score' ? event.judge : undefined;
  const limits = event.kind === 'run_start' ? event.limits : undefined;
  const reportedCost = llm?.cost_usd;
  const priced = llm !== undefined && reportedCost === undefined && meta.pricedCostUsd !== undefined;
  return {
    event_id: event.event_id,
    ts_ms: event.ts,
    run_id: event.run_id,
    span_id: event.span_id,
    parent_span_id: event.parent_span_id ?? '',
    kind: event.kind,
    agent_id: event.agent_id,
    tenant_id: event.tenant_id,
    user_id: event.user_id,
    attr_keys: keys,
    attr_values: keys.map((k) => attrs[k] ?? ''),
    model_version: attrs['model_version'] ?? '',
    prompt_hash: attrs['prompt_hash'] ?? '',
    model: llm?.model ?? '',
    input_tokens: llm?.input_tokens ?? 0,
    output_tokens: llm?.output_tokens ?? 0,
    cached_tokens: llm?.cached_tokens ?? 0,
    cost_usd: reportedCost ?? (priced ? (meta.pricedCostUsd ?? 0) : 0),
    /** 1 when cost_usd came from the price table rather than the event. */
    cost_priced: priced ? 1 : 0,
    latency_ms: llm?.latency_ms ?? 0,
    tool_name: tool?.name ?? '',
    args_hash: tool?.args_hash ?? '',
    tool_status: tool?.status ?? '',
    tool_duration_ms: tool?.duration_ms ?? 0,
    error_type: tool?.error_type ?? '',
    tool_sensitive: tool?.sensitive === true ? 1 : 0,
    judge_score: judge?.score ?? null,
    rubric: judge?.rubric ?? '',
    judge_model: judge?.judge_model ?? '',
    run_status: event.kind === 'run_end' ? event.status : '',
    limit_max_llm_calls: limits?.max_llm_calls ?? null,
    limit_max_tool_calls: limits?.max_tool_calls ?? null,
    limit_max_tokens: limits?.max_tokens ?? null,
    limit_max_cost_usd: limits?.max_cost_usd ?? null,
    kafka_partition: meta.partition,
    kafka_offset: meta.offset,
    ingested_at_ms: meta.ingestedAtMs,
  };
}

/** One `findings` row. */
export function findingToRow(finding: Finding) {
  const cohort = finding.cohort ?? {};
  const keys = Object.keys(cohort).sort();
  return {
    finding_id: finding.finding_id,
    ts_ms: finding.ts,
    detector: finding.detector,
    rule: finding.rule,
    severity: finding.severity,
    scope_kind: finding.scope.kind,
    scope_id: finding.scope.id,
    cohort_keys: keys,
    cohort_values: keys.map((k) => cohort[k] ?? ''),
    observed: finding.observed,
    threshold: finding.threshold,
    baseline: finding.baseline ?? null,
    // Canonical JSON (sorted keys): a replayed finding writes byte-identical details.
    details: canonicalJson(finding.details ?? {}),
  };
}

/** Who issued a command: the detector pipeline, an operator at the CLI, or the budget scheduler. */
export const COMMAND_SOURCES = ['pipeline', 'operator', 'scheduler'] as const;
export type CommandSource = (typeof COMMAND_SOURCES)[number];

/** One `control_commands` row: the audit trail of a command as it was sent. */
export function commandToRow(command: ControlCommand, meta: { source: CommandSource; operator?: string }) {
  return {
    command_id: command.command_id,
    issued_at_ms: command.issued_at,
    action: command.action,
    scope_kind: command.scope.kind,
    scope_id: command.scope.id,
    reason_detector: command.reason.detector,
    reason_rule: command.reason.rule,
    reason_observed: command.reason.observed,
    reason_threshold: command.reason.threshold,
    reason_baseline: command.reason.baseline ?? null,
    reason_finding_id: command.reason.finding_id,
    reason_note: command.reason.note ?? '',
    expires_at_ms: command.expires_at ?? null,
    throttle_max_concurrent_runs: command.throttle?.max_concurrent_runs ?? null,
    throttle_max_llm_calls_per_minute: command.throttle?.max_llm_calls_per_minute ?? null,
    throttle_delay_ms: command.throttle?.delay_ms ?? null,
    key_id: command.key_id ?? '',
    signature: command.signature,
    source: meta.source,
    operator: meta.operator ?? '',
  };
}

/** A bad message on its way to `dlq_events` (mirrors the DLQ topic, SPEC §6). */
export interface DlqRecord {
  /** When it was rejected (epoch ms). */
  tsMs: number;
  reason: string;
  message: string;
  topic: string;
  partition: number;
  /** Kafka offsets travel as strings (int64); they fit a double for any realistic topic. */
  offset: string | number;
  /** The original message value, untouched. */
  value: Uint8Array | string | null;
}

/**
 * Original bytes beyond this are dropped from the row (value_truncated = 1, value_bytes the full
 * size); the DLQ topic keeps them all. 64 KiB shows what a rejected message was; copying whole
 * oversize messages (> 256 KB each, base64 on top) into ClickHouse cost the ingest a quarter of
 * its throughput on a stream with 0.1 % of them (bench/bad-input.ts).
 */
export const DLQ_MAX_VALUE_BYTES = 64 * 1024;

/** One `dlq_events` row; the original bytes as base64 so any payload survives a String column. */
export function dlqToRow(record: DlqRecord) {
  const bytes = record.value === null ? Buffer.alloc(0) : typeof record.value === 'string' ? Buffer.from(record.value) : Buffer.from(record.value);
  const kept = bytes.subarray(0, DLQ_MAX_VALUE_BYTES);
  const offset = Number(record.offset);
  if (!Number.isSafeInteger(offset) || offset < 0) throw new RangeError(`dlqToRow: bad Kafka offset ${String(record.offset)}`);
  return {
    ts_ms: record.tsMs,
    reason: record.reason,
    message: truncate(record.message, 2_000),
    topic: record.topic,
    kafka_partition: record.partition,
    kafka_offset: offset,
    value_bytes: bytes.byteLength,
    value_truncated: kept.byteLength < bytes.byteLength ? 1 : 0,
    value_base64: kept.toString('base64'),
  };
}

/** At most `max` UTF-16 units of `text`, never ending on half a surrogate pair. */
function truncate(text: string, max: number): string {
  if (text.length <= max) return text;
  const code = text.charCodeAt(max - 1);
  return text.slice(0, code >= 0xd800 && code <= 0xdbff ? max - 1 : max);
}

export type SpanRow = ReturnType<typeof spanToRow>;
export type FindingRow = ReturnType<typeof findingToRow>;
export type CommandRow = ReturnType<typeof commandToRow>;
export type DlqRow = ReturnType<typeof dlqToRow>;
