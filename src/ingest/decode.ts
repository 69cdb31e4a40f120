import type { z } from 'zod';
import { RUN_STATUSES, SPAN_SCHEMA_VERSION, TOOL_STATUSES, spanEventSchema, type SpanEvent } from '../contracts/span.ts';
import { isWellFormed } from '../util/well-formed.ts';
import { messageText } from './message-text.ts';

/** Why a message went to the DLQ (SPEC §6). Stable strings: they label metrics and DLQ headers. */
export const DLQ_REASONS = [
  'oversize',
  'invalid_utf8',
  'invalid_json',
  'not_an_object',
  'unknown_version',
  'invalid_number',
  'schema_violation',
  'future_timestamp',
  'duplicate',
  'detector_error',
  'store_rejected',
] as const;
export type DlqReason = (typeof DLQ_REASONS)[number];

export interface DecodeOptions {
  /** Wall-clock or event-time reference (epoch ms) for the future-timestamp check. */
  nowMs: number;
  /** How far ahead of `nowMs` an event's ts may be (ms). Default 5 minutes. */
  maxFutureMs?: number;
  /** Largest accepted message (bytes). Default 256 KiB. */
  maxBytes?: number;
}

export interface DecodeIssue {
  path: string;
  message: string;
}

export type Decoded =
  | { ok: true; event: SpanEvent }
  | { ok: false; reason: DlqReason; message: string; issues?: DecodeIssue[] };

export const MAX_MESSAGE_BYTES = 256 * 1024;
export const DEFAULT_MAX_FUTURE_MS = 5 * 60_000;


/**
 * Decodes one Kafka message value into a validated span event, or says exactly why not.
 * Never throws: every failure is a DLQ reason with a message a producer can act on.
 *
 * The common well-formed event is validated by a hand-written check (`fastSpanEvent`); anything
 * it does not accept outright goes through the zod schema, so the answers are exactly those of
 * `decodeSpanBySchema` (test/unit/ingest/decode-fast.test.ts holds the two to it).
 */
export function decodeSpan(value: Uint8Array | string | null, options: DecodeOptions): Decoded {
  return decode(value, options, true);
}

/** The reference decoder: like decodeSpan, but every event goes through the zod schema. */
export function decodeSpanBySchema(value: Uint8Array | string | null, options: DecodeOptions): Decoded {
  return decode(value, options, false);
}

function decode(value: Uint8Array | string | null, options: DecodeOptions, fast: boolean): Decoded {
  const maxBytes = options.maxBytes ?? MAX_MESSAGE_BYTES;
  const text = messageText(value, maxBytes, 'message is not valid UTF-8');
  if (typeof text !== 'string') return text;
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    return { ok: false, reason: 'invalid_json', message: `invalid JSON: ${(err as Error).message}` };
  }
  if (json === null || typeof json !== 'object' || Array.isArray(json)) {
    return { ok: false, reason: 'not_an_object', message: 'a span event must be a JSON object' };
  }
  const version = (json as { schema?: unknown }).schema;
  if (version !== SPAN_SCHEMA_VERSION) {
    return {
      ok: false,
      reason: 'unknown_version',
      // Truncated: the message travels in a DLQ header and a producer may send anything here.
      message: `unknown schema ${JSON.stringify(version ?? null).slice(0, 80)}; expected "${SPAN_SCHEMA_VERSION}"`,
    };
  }
  const quick = fast ? fastSpanEvent(json as Record<string, unknown>) : undefined;
  const parsed = quick ? ({ success: true, data: quick } as const) : spanEventSchema.safeParse(json);
  if (!parsed.success) {
    const issues = toIssues(parsed.error);
    const numeric = parsed.error.issues.some((issue) => isNumberIssue(issue, json));
    return {
      ok: false,
      reason: numeric ? 'invalid_number' : 'schema_violation',
      message: issues.map((i) => `${i.path || '(root)'}: ${i.message}`).join('; '),
      issues,
    };
  }
  const event = parsed.data;
  // Only text with a surrogate (escaped or raw) can hold a lone one: the walk is skipped otherwise.
  const broken = MAYBE_SURROGATE.test(text) ? lonelySurrogatePath(event) : undefined;
  if (broken !== undefined) {
    // Valid JSON (`"\ud800"`) but not Unicode text: ClickHouse refuses such strings, and an
    // event that cannot be stored must not stall its partition.
    return { ok: false, reason: 'invalid_utf8', message: `${broken}: contains a lone UTF-16 surrogate escape (not valid Unicode text)` };
  }
  const maxFuture = options.maxFutureMs ?? DEFAULT_MAX_FUTURE_MS;
  if (event.ts > options.nowMs + maxFuture) {
    return {
      ok: false,
      reason: 'future_timestamp',
      message: `ts ${isoOrMs(event.ts)} is more than ${maxFuture} ms ahead of ${isoOrMs(options.nowMs)}`,
    };
  }
  return { ok: true, event };
}

const TOOL_STATUS_SET: ReadonlySet<unknown> = new Set(TOOL_STATUSES);
const RUN_STATUS_SET: ReadonlySet<unknown> = new Set(RUN_STATUSES);

/** `boundedId(max)`: a string of 1..max UTF-16 code units. */
const isId = (v: unknown, max: number): v is string => typeof v === 'string' && v.length >= 1 && v.length <= max;
/** `z.string().max(max)`. */
const isText = (v: unknown, max: number): v is string => typeof v === 'string' && v.length <= max;
/** `count()`: a safe, non-negative integer. */
const isCount = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0;
/** `amount()`: a finite, non-negative number. */
const isAmount = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v) && v >= 0;
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * The fast path of decodeSpan: the span event schema (src/contracts/span.ts) checked by hand for
 * the common case — ts in epoch ms, every field of the expected type and within its bounds.
 * Returns the event exactly as `spanEventSchema.parse(json)` would (the same keys, in the schema's
 * order, unknown keys dropped), or undefined for anything else: ISO timestamps, any violation,
 * anything unusual (an attribute named `__proto__`), which the schema then decides, with its
 * messages. It must never accept what the schema rejects (a property test holds it to that).
 * `json.schema` has been checked already.
 */
export function fastSpanEvent(json: Record<string, unknown>): SpanEvent | undefined {
  const { event_id, ts, run_id, span_id, parent_span_id, agent_id, tenant_id, user_id, attrs, kind } = json;
  if (!isId(event_id, 64) || !isCount(ts) || !isId(run_id, 128) || !isId(span_id, 64)) return undefined;
  if (parent_span_id !== undefined && !isId(parent_span_id, 64)) return undefined;
  if (!isId(agent_id, 128) || !isId(tenant_id, 128) || !isId(user_id, 128)) return undefined;
  let attrsOut: Record<string, string> | undefined;
  if (attrs !== undefined) {
    attrsOut = fastAttrs(attrs);
    if (attrsOut === undefined) return undefined;
  }
  // When the object holds only the schema's keys, in its order (as emitters write them), and is
  // valid, it is the schema's output as it stands; otherwise the output is built (or left to zod).
  if (inSchemaOrder(json, kind) && validAsIs(json, kind)) return json as SpanEvent;
  const event: Record<string, unknown> = { schema: SPAN_SCHEMA_VERSION, event_id, ts, run_id, span_id };
  if (parent_span_id !== undefined) event.parent_span_id = parent_span_id;
  event.agent_id = agent_id;
  event.tenant_id = tenant_id;
  event.user_id = user_id;
  if (attrsOut !== undefined) event.attrs = attrsOut;
  event.kind = kind;
  switch (kind) {
    case 'run_start': {
      if (json.limits === undefined) break;
      const limits = fastLimits(json.limits);
      if (limits === undefined) return undefined;
      event.limits = limits;
      break;
    }
    case 'llm_call': {
      const llm = fastLlm(json.llm);
      if (llm === undefined) return undefined;
      event.llm = llm;
      break;
    }
    case 'tool_call': {
      const tool = fastTool(json.tool);
      if (tool === undefined) return undefined;
      event.tool = tool;
      break;
    }
    case 'judge_score': {
      const judge = fastJudge(json.judge);
      if (judge === undefined) return undefined;
      event.judge = judge;
      break;
    }
    case 'run_end':
      if (!RUN_STATUS_SET.has(json.status)) return undefined;
      event.status = json.status;
      break;
    case 'side_effect': {
      if (json.tool === undefined) break;
      const tool = fastTool(json.tool);
      if (tool === undefined) return undefined;
      event.tool = tool;
      break;
    }
    default:
      return undefined;
  }
  return event as SpanEvent;
}

/** `attrsSchema`: at most 64 keys of 1..128 units, string values of at most 256. */
function fastAttrs(v: unknown): Record<string, string> | undefined {
  if (!isObject(v)) return undefined;
  let n = 0;
  for (const key in v) {
    // The schema's record silently drops `__proto__`: left to it.
    if (key === '__proto__' || key.length < 1 || key.length > 128) return undefined;
    if (!isText(v[key], 256) || ++n > 64) return undefined;
  }
  // The record's output has the same keys in the same order (own keys, as for...in lists them here).
  return v as Record<string, string>;
}

/** The keys each kind's object schema knows, in its order. */
const BASE_KEYS = ['schema', 'event_id', 'ts', 'run_id', 'span_id', 'parent_span_id', 'agent_id', 'tenant_id', 'user_id', 'attrs', 'kind'];
const KIND_KEYS: Record<string, readonly string[]> = {
  run_start: [...BASE_KEYS, 'limits'],
  llm_call: [...BASE_KEYS, 'llm'],
  tool_call: [...BASE_KEYS, 'tool'],
  judge_score: [...BASE_KEYS, 'judge'],
  run_end: [...BASE_KEYS, 'status'],
  side_effect: [...BASE_KEYS, 'tool'],
};
const LIMITS_KEYS = ['max_llm_calls', 'max_tool_calls', 'max_tokens', 'max_cost_usd'];
const LLM_KEYS = ['model', 'input_tokens', 'output_tokens', 'cached_tokens', 'cost_usd', 'latency_ms'];
const TOOL_KEYS = ['name', 'args_hash', 'status', 'duration_ms', 'error_type', 'sensitive'];
const JUDGE_KEYS = ['score', 'rubric', 'judge_model'];

/** True when every key of `obj` is one of `order`, in that order (a subsequence of it). */
function keysInOrder(obj: Record<string, unknown>, order: readonly string[]): boolean {
  let i = 0;
  for (const key in obj) {
    while (i < order.length && order[i] !== key) i++;
    if (i === order.length) return false;
    i++;
  }
  return true;
}

function inSchemaOrder(json: Record<string, unknown>, kind: unknown): boolean {
  const order = typeof kind === 'string' && Object.hasOwn(KIND_KEYS, kind) ? KIND_KEYS[kind] : undefined;
  return order !== undefined && keysInOrder(json, order);
}

/** The kind's payload is valid and its objects hold only their schema's keys, in order (the base fields are checked). */
function validAsIs(json: Record<string, unknown>, kind: unknown): boolean {
  switch (kind) {
    case 'run_start':
      return json.limits === undefined || fastLimits(json.limits, true) !== undefined;
    case 'llm_call':
      return fastLlm(json.llm, true) !== undefined;
    case 'tool_call':
      return fastTool(json.tool, true) !== undefined;
    case 'judge_score':
      return fastJudge(json.judge, true) !== undefined;
    case 'run_end':
      return RUN_STATUS_SET.has(json.status);
    case 'side_effect':
      return json.tool === undefined || fastTool(json.tool, true) !== undefined;
    default:
      return false;
  }
}

function fastLimits(v: unknown, asIs = false): Record<string, unknown> | undefined {
  if (!isObject(v) || (asIs && !keysInOrder(v, LIMITS_KEYS))) return undefined;
  const { max_llm_calls, max_tool_calls, max_tokens, max_cost_usd } = v;
  if (max_llm_calls !== undefined && !isCount(max_llm_calls)) return undefined;
  if (max_tool_calls !== undefined && !isCount(max_tool_calls)) return undefined;
  if (max_tokens !== undefined && !isCount(max_tokens)) return undefined;
  if (max_cost_usd !== undefined && !isAmount(max_cost_usd)) return undefined;
  if (asIs) return v;
  const out: Record<string, unknown> = {};
  if (max_llm_calls !== undefined) out.max_llm_calls = max_llm_calls;
  if (max_tool_calls !== undefined) out.max_tool_calls = max_tool_calls;
  if (max_tokens !== undefined) out.max_tokens = max_tokens;
  if (max_cost_usd !== undefined) out.max_cost_usd = max_cost_usd;
  return out;
}

function fastLlm(v: unknown, asIs = false): Record<string, unknown> | undefined {
  if (!isObject(v) || (asIs && !keysInOrder(v, LLM_KEYS))) return undefined;
  const { model, input_tokens, output_tokens, cached_tokens, cost_usd, latency_ms } = v;
  if (!isId(model, 128) || !isCount(input_tokens) || !isCount(output_tokens)) return undefined;
  if (cached_tokens !== undefined && !isCount(cached_tokens)) return undefined;
  if (cost_usd !== undefined && !isAmount(cost_usd)) return undefined;
  if (latency_ms !== undefined && !isAmount(latency_ms)) return undefined;
  if (asIs) return v;
  const out: Record<string, unknown> = { model, input_tokens, output_tokens };
  if (cached_tokens !== undefined) out.cached_tokens = cached_tokens;
  if (cost_usd !== undefined) out.cost_usd = cost_usd;
  if (latency_ms !== undefined) out.latency_ms = latency_ms;
  return out;
}

function fastTool(v: unknown, asIs = false): Record<string, unknown> | undefined {
  if (!isObject(v) || (asIs && !keysInOrder(v, TOOL_KEYS))) return undefined;
  const { name, args_hash, status, duration_ms, error_type, sensitive } = v;
  if (!isId(name, 128) || !TOOL_STATUS_SET.has(status)) return undefined;
  if (args_hash !== undefined && !isText(args_hash, 128)) return undefined;
  if (duration_ms !== undefined && !isAmount(duration_ms)) return undefined;
  if (error_type !== undefined && !isText(error_type, 128)) return undefined;
  if (sensitive !== undefined && typeof sensitive !== 'boolean') return undefined;
  if (asIs) return v;
  const out: Record<string, unknown> = { name };
  if (args_hash !== undefined) out.args_hash = args_hash;
  out.status = status;
  if (duration_ms !== undefined) out.duration_ms = duration_ms;
  if (error_type !== undefined) out.error_type = error_type;
  if (sensitive !== undefined) out.sensitive = sensitive;
  return out;
}

function fastJudge(v: unknown, asIs = false): Record<string, unknown> | undefined {
  if (!isObject(v) || (asIs && !keysInOrder(v, JUDGE_KEYS))) return undefined;
  const { score, rubric, judge_model } = v;
  if (typeof score !== 'number' || !Number.isFinite(score) || score < 0 || score > 1) return undefined;
  if (rubric !== undefined && !isText(rubric, 128)) return undefined;
  if (judge_model !== undefined && !isText(judge_model, 128)) return undefined;
  if (asIs) return v;
  const out: Record<string, unknown> = { score };
  if (rubric !== undefined) out.rubric = rubric;
  if (judge_model !== undefined) out.judge_model = judge_model;
  return out;
}

/** ISO-8601 for a DLQ message; epoch ms beyond the Date range (up to 2^53 - 1 passes the schema) as they are. */
function isoOrMs(ms: number): string {
  const date = new Date(ms);
  return Number.isNaN(date.getTime()) ? `${ms} (epoch ms)` : date.toISOString();
}

/** A surrogate, escaped in JSON or raw: only then can the decoded event hold a lone one. */
const MAYBE_SURROGATE = /\\u[dD][89a-fA-F]|[\uD800-\uDFFF]/;

/** Path of the first string (key or value) that is not well-formed Unicode, if any. */
function lonelySurrogatePath(value: unknown, path = ''): string | undefined {
  if (typeof value === 'string') return isWellFormed(value) ? undefined : path || '(root)';
  if (value === null || typeof value !== 'object') return undefined;
  for (const [key, inner] of Object.entries(value)) {
    const at = path ? `${path}.${key}` : key;
    if (!isWellFormed(key)) return at;
    const found = lonelySurrogatePath(inner, at);
    if (found !== undefined) return found;
  }
  return undefined;
}

function toIssues(error: z.ZodError): DecodeIssue[] {
  return error.issues.slice(0, 10).map((i) => ({ path: i.path.join('.'), message: i.message }));
}

/**
 * A bad number (negative, non-finite, non-integer) rather than a wrong shape: the value the
 * producer sent is a JSON number. A string or null where a number belongs is a schema violation.
 * `root` is what the issue's path is relative to (union branches report paths relative to the union).
 */
function isNumberIssue(issue: z.core.$ZodIssue, root: unknown): boolean {
  const value = valueAt(root, issue.path);
  if (typeof value !== 'number') return false;
  switch (issue.code) {
    case 'too_small':
      return true;
    case 'too_big':
      return issue.origin === 'int'; // beyond 2^53 - 1: not exact in a double
    case 'invalid_type':
      return issue.expected === 'number' || issue.expected === 'int';
    case 'invalid_union':
      return issue.errors.some((branch) => branch.some((inner) => isNumberIssue(inner, value)));
    case 'custom':
    case 'invalid_element':
    case 'invalid_format':
    case 'invalid_key':
    case 'invalid_value':
    case 'not_multiple_of':
    case 'unrecognized_keys':
    default:
      return false;
  }
}

function valueAt(root: unknown, path: readonly PropertyKey[]): unknown {
  let value = root;
  for (const key of path) {
    if (value === null || typeof value !== 'object') return undefined;
    value = (value as Record<PropertyKey, unknown>)[key];
  }
  return value;
}
