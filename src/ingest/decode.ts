import type { z } from 'zod';
import { SPAN_SCHEMA_VERSION, spanEventSchema, type SpanEvent } from '../contracts/span.ts';
import { isWellFormed } from '../util/well-formed.ts';

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

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Decodes one Kafka message value into a validated span event, or says exactly why not.
 * Never throws: every failure is a DLQ reason with a message a producer can act on.
 */
export function decodeSpan(value: Uint8Array | string | null, options: DecodeOptions): Decoded {
  const maxBytes = options.maxBytes ?? MAX_MESSAGE_BYTES;
  if (value === null) return { ok: false, reason: 'invalid_json', message: 'empty message (null value)' };
  const size = typeof value === 'string' ? Buffer.byteLength(value) : value.byteLength;
  if (size > maxBytes) {
    return { ok: false, reason: 'oversize', message: `message is ${size} bytes; the limit is ${maxBytes}` };
  }
  let text: string;
  if (typeof value === 'string') text = value;
  else {
    try {
      text = utf8.decode(value);
    } catch {
      return { ok: false, reason: 'invalid_utf8', message: 'message is not valid UTF-8' };
    }
  }
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
  const parsed = spanEventSchema.safeParse(json);
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
      message: `ts ${new Date(event.ts).toISOString()} is more than ${maxFuture} ms ahead of ${new Date(options.nowMs).toISOString()}`,
    };
  }
  return { ok: true, event };
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
