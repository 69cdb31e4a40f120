import { fastSpanEvent } from '../ingest/decode.ts';
import { SPAN_SCHEMA_VERSION, spanEventSchema, type SpanEvent, type SpanEventInput, type ToolStatus } from '../contracts/span.ts';
import { attrNumber, attrText, firstOf, toAttrs, type AttrValue, type Attrs } from './attributes.ts';
import { evaluationScore } from './evaluation.ts';
import { EVALUATION_EVENT, GEN_AI, classifySpan } from './gen-ai.ts';
import { DEFAULT_OTLP_MAPPING, type OtlpMappingOptions } from './mapping-options.ts';
import { otlpSpanSchema, type ExportTraceServiceRequest, type OtlpSpan } from './otlp-json.ts';
import { hashToolArguments } from './tool-arguments.ts';

/** Why a span produced no event. Counted, never sent to the DLQ: a trace holds many spans runwarden has no use for. */
export const OTLP_SKIP_REASONS = [
  'not_gen_ai',
  'unsupported_operation',
  'nested_agent',
  'tool_without_name',
  'evaluation_without_score',
  'score_out_of_range',
  'invalid_span',
  'schema_violation',
] as const;
export type OtlpSkipReason = (typeof OTLP_SKIP_REASONS)[number];

export interface OtlpMapResult {
  /** Validated runwarden.span/v1 events, in event-time order (stable for equal times). */
  events: SpanEvent[];
  /** Spans in the request. */
  spans: number;
  /** Spans (and evaluation span events) that gave no event, by reason. */
  skipped: Partial<Record<OtlpSkipReason, number>>;
  /** The first few reasons spans were invalid or mapped to an invalid event, for a log line. */
  issues: string[];
}

interface SpanRecord {
  span: OtlpSpan;
  attrs: Attrs;
  resource: Attrs;
  key: string;
  parentKey?: string;
}

const MAX_ISSUES = 5;
/** How far up the span tree identity lookups go (a guard against cycles in malformed input). */
const MAX_DEPTH = 64;

/**
 * Maps one OTLP ExportTraceServiceRequest onto SPEC §1 span events (docs/otlp.md has the table).
 * Pure: the same request and options always give the same events, with deterministic event ids
 * (trace id + span id), so a request delivered twice is deduplicated downstream.
 */
export function mapOtlpRequest(request: ExportTraceServiceRequest, options: OtlpMappingOptions = DEFAULT_OTLP_MAPPING): OtlpMapResult {
  const result: OtlpMapResult = { events: [], spans: 0, skipped: {}, issues: [] };
  const skip = (reason: OtlpSkipReason, issue?: string) => {
    result.skipped[reason] = (result.skipped[reason] ?? 0) + 1;
    if (issue !== undefined && result.issues.length < MAX_ISSUES) result.issues.push(issue);
  };
  const records: SpanRecord[] = [];
  const byKey = new Map<string, SpanRecord>();
  for (const rs of request.resourceSpans) {
    const resource = toAttrs(rs.resource?.attributes);
    for (const scope of [...(rs.scopeSpans ?? []), ...(rs.instrumentationLibrarySpans ?? [])]) {
      for (const raw of scope.spans ?? []) {
        result.spans++;
        const parsed = otlpSpanSchema.safeParse(raw);
        if (!parsed.success) {
          const issue = parsed.error.issues[0];
          skip('invalid_span', `span ${result.spans}: ${issue?.path.join('.') ?? ''}: ${issue?.message ?? 'invalid'}`);
          continue;
        }
        const span = parsed.data;
        const traceId = span.traceId.toLowerCase();
        const record: SpanRecord = { span, attrs: toAttrs(span.attributes), resource, key: `${traceId}/${span.spanId.toLowerCase()}` };
        if (span.parentSpanId) record.parentKey = `${traceId}/${span.parentSpanId.toLowerCase()}`;
        records.push(record);
        byKey.set(record.key, record);
      }
    }
  }

  const ancestors = (record: SpanRecord): SpanRecord[] => {
    const out: SpanRecord[] = [];
    let key = record.parentKey;
    for (let depth = 0; key !== undefined && depth < MAX_DEPTH; depth++) {
      const parent = byKey.get(key);
      if (!parent) break;
      out.push(parent);
      key = parent.parentKey;
    }
    return out;
  };
  /** Where identity lookups read, in order: the span, its ancestors in the payload, its resource. Built once per span. */
  const chains = new Map<SpanRecord, Attrs[]>();
  const chainOf = (record: SpanRecord): Attrs[] => {
    let chain = chains.get(record);
    if (!chain) {
      chain = [record.attrs, ...ancestors(record).map((a) => a.attrs), record.resource];
      chains.set(record, chain);
    }
    return chain;
  };
  /** Key by key: `own` (an evaluation event's attributes), then the span's chain. */
  const lookup = <T>(record: SpanRecord, keys: readonly string[], read: (v: AttrValue | undefined) => T | undefined, own?: Attrs): T | undefined => {
    const chain = chainOf(record);
    for (const key of keys) {
      if (own) {
        const v = read(own.get(key));
        if (v !== undefined) return v;
      }
      for (const attrs of chain) {
        const v = read(attrs.get(key));
        if (v !== undefined) return v;
      }
    }
    return undefined;
  };
  const runIdOf = (record: SpanRecord) => (options.runIdKey ? lookup(record, [options.runIdKey], attrText) : undefined) ?? record.span.traceId.toLowerCase();

  const emit = (input: SpanEventInput) => {
    // The decoder's hand-written check accepts exactly what the schema accepts; the schema says why not.
    const quick = fastSpanEvent(input as Record<string, unknown>);
    if (quick) {
      result.events.push(quick);
      return;
    }
    const parsed = spanEventSchema.safeParse(input);
    if (parsed.success) result.events.push(parsed.data);
    else {
      const issue = parsed.error.issues[0];
      skip('schema_violation', `event ${input.event_id}: ${issue?.path.join('.') ?? ''}: ${issue?.message ?? 'invalid'}`);
    }
  };

  /** The fields every event carries; `suffix` tells apart the events one span gives. */
  const base = (record: SpanRecord, suffix: string, ts: number, own?: Attrs) => {
    const { span } = record;
    const spanId = span.spanId.toLowerCase();
    const out = {
      schema: SPAN_SCHEMA_VERSION as typeof SPAN_SCHEMA_VERSION,
      event_id: `${span.traceId.toLowerCase()}:${spanId}${suffix}`,
      ts,
      run_id: clip(runIdOf(record), 128),
      span_id: spanId,
      ...(span.parentSpanId ? { parent_span_id: span.parentSpanId.toLowerCase() } : {}),
      agent_id: clip(lookup(record, options.agentKeys, attrText, own) ?? options.unknownId, 128),
      tenant_id: clip(lookup(record, options.tenantKeys, attrText, own) ?? options.unknownId, 128),
      user_id: clip(lookup(record, options.userKeys, attrText, own) ?? options.unknownId, 128),
    };
    const attrs: Record<string, string> = {};
    for (const [name, keys] of Object.entries(options.attrKeys)) {
      const v = lookup(record, keys, attrText, own);
      if (v !== undefined) attrs[name] = clip(v, 256);
    }
    return Object.keys(attrs).length > 0 ? { ...out, attrs } : out;
  };

  for (const record of records) {
    const { span, attrs } = record;
    const startMs = nanosToMs(span.startTimeUnixNano);
    const endMs = span.endTimeUnixNano === undefined ? startMs : Math.max(startMs, nanosToMs(span.endTimeUnixNano));
    const durationMs = endMs - startMs;
    const failed = isError(span.status?.code);
    const { cls } = classifySpan(attrs, span.name);
    let produced = false;

    switch (cls) {
      case 'llm': {
        const model = firstOf(attrs, [...GEN_AI.responseModel, ...GEN_AI.requestModel], attrText) ?? 'unknown';
        const cached = firstOf(attrs, GEN_AI.cacheReadTokens, attrNumber);
        emit({
          ...base(record, '', endMs),
          kind: 'llm_call',
          llm: {
            model: clip(model, 128),
            input_tokens: firstOf(attrs, GEN_AI.inputTokens, attrNumber) ?? 0,
            output_tokens: firstOf(attrs, GEN_AI.outputTokens, attrNumber) ?? 0,
            ...(cached !== undefined ? { cached_tokens: cached } : {}),
            latency_ms: durationMs,
          },
        });
        produced = true;
        break;
      }
      case 'tool': {
        // Current semconv names the span `execute_tool {gen_ai.tool.name}`.
        const name = firstOf(attrs, GEN_AI.toolName, attrText) ?? span.name?.match(/^execute_tool (\S.*)$/)?.[1];
        if (name === undefined) {
          skip('tool_without_name');
          continue;
        }
        const args = firstOf(attrs, GEN_AI.toolArguments, (v) => (v === null ? undefined : v));
        // error.type is low-cardinality by convention; the status message is free text, read only to spot a timeout.
        const errorType = failed ? firstOf(attrs, GEN_AI.errorType, attrText) : undefined;
        const timedOut = /timeout|timed.?out/i.test(`${errorType ?? ''} ${span.status?.message ?? ''}`);
        const status: ToolStatus = !failed ? 'ok' : timedOut ? 'timeout' : 'error';
        emit({
          ...base(record, '', endMs),
          kind: 'tool_call',
          tool: {
            name: clip(name, 128),
            ...(args !== undefined ? { args_hash: hashToolArguments(args) } : {}),
            status,
            duration_ms: durationMs,
            ...(errorType ? { error_type: clip(errorType, 128) } : {}),
          },
        });
        produced = true;
        break;
      }
      case 'agent': {
        // A sub-agent invoked inside the same run is one more step of that run, not a run of its own.
        const runId = runIdOf(record);
        const outer = ancestors(record).some((a) => classifySpan(a.attrs, a.span.name).cls === 'agent' && runIdOf(a) === runId);
        if (outer) {
          skip('nested_agent');
          continue;
        }
        emit({ ...base(record, ':start', startMs), kind: 'run_start' });
        emit({ ...base(record, ':end', endMs), kind: 'run_end', status: failed ? 'error' : 'ok' });
        produced = true;
        break;
      }
      case 'evaluation': {
        const judged = evaluationScore(attrs);
        if (judged.ok) {
          emit({ ...base(record, '', endMs), kind: 'judge_score', judge: judged.judge });
          produced = true;
        } else skip(judged.reason);
        break;
      }
      case 'other_gen_ai':
      case 'not_gen_ai':
        break;
    }

    // Evaluation results recorded as span events on the span they judge.
    (span.events ?? []).forEach((event, i) => {
      if (event.name !== EVALUATION_EVENT) return;
      const own = toAttrs(event.attributes);
      const judged = evaluationScore(own);
      if (!judged.ok) {
        skip(judged.reason);
        return;
      }
      const ts = event.timeUnixNano === undefined ? endMs : nanosToMs(event.timeUnixNano);
      const b = base(record, `:eval${i}`, ts, own);
      emit({ ...b, span_id: `${b.span_id}.eval${i}`, parent_span_id: b.span_id, kind: 'judge_score', judge: judged.judge });
      produced = true;
    });

    if (!produced && cls === 'not_gen_ai') skip('not_gen_ai');
    if (!produced && cls === 'other_gen_ai') skip('unsupported_operation');
  }
  result.events.sort((a, b) => a.ts - b.ts);
  return result;
}

/** Unix nanoseconds (decimal string or number) → epoch ms, exact for strings (no float rounding). */
export function nanosToMs(nanos: string | number): number {
  if (typeof nanos === 'number') return Math.max(0, Math.floor(nanos / 1e6));
  if (nanos.startsWith('-')) return 0;
  return nanos.length <= 6 ? 0 : Number(nanos.slice(0, -6));
}

/** Status.code 2 (or its enum name) is ERROR. */
function isError(code: number | string | undefined): boolean {
  return code === 2 || code === 'STATUS_CODE_ERROR';
}

const clip = (s: string, max: number) => (s.length <= max ? s : s.slice(0, max));
