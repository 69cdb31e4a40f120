import { z } from 'zod';
import { messageText } from '../ingest/message-text.ts';

/**
 * The OTLP/JSON shape of an ExportTraceServiceRequest, as the OpenTelemetry Collector's Kafka
 * exporter writes it with `encoding: otlp_json` (one request per Kafka message) and as the
 * collector's file exporter and the JS SDK's JsonTraceSerializer write it. Protobuf JSON mapping:
 * lowerCamelCase names, trace and span ids as hex, 64-bit integers (times in unix ns, intValue)
 * as decimal strings from Go and as numbers from JavaScript — both are accepted.
 *
 * The envelope (resourceSpans → scopeSpans → spans) is checked strictly: a message that is not
 * this shape is not OTLP and goes to the DLQ. Each span is checked on its own by the mapper, so
 * one bad span is skipped and counted without losing the rest of the batch.
 */

/** int64 / uint64 in protobuf JSON: a decimal string (Go) or a number (JavaScript). */
export const int64Schema = z.union([z.string().regex(/^-?\d{1,20}$/, 'must be a decimal integer'), z.number().int()]);

/** An OTLP AnyValue. Recursive (arrayValue, kvlistValue); unknown members are ignored. */
export type AnyValue = {
  stringValue?: string | undefined;
  boolValue?: boolean | undefined;
  intValue?: string | number | undefined;
  doubleValue?: number | string | undefined;
  arrayValue?: { values?: AnyValue[] | undefined } | undefined;
  kvlistValue?: { values?: KeyValue[] | undefined } | undefined;
  bytesValue?: string | undefined;
};
export type KeyValue = { key: string; value?: AnyValue | undefined };

export const anyValueSchema: z.ZodType<AnyValue> = z.lazy(() =>
  z.object({
    stringValue: z.string().optional(),
    boolValue: z.boolean().optional(),
    intValue: int64Schema.optional(),
    // NaN and ±Infinity are strings in protobuf JSON.
    doubleValue: z.union([z.number(), z.string()]).optional(),
    arrayValue: z.object({ values: z.array(anyValueSchema).optional() }).optional(),
    kvlistValue: z.object({ values: z.array(keyValueSchema).optional() }).optional(),
    bytesValue: z.string().optional(),
  }),
);
export const keyValueSchema: z.ZodType<KeyValue> = z.lazy(() => z.object({ key: z.string(), value: anyValueSchema.optional() }));
/**
 * Attribute lists are only checked to be arrays here: the recursive AnyValue schema costs more
 * than the rest of a span together, and toAttrs reads what it can (an entry without a string key
 * is ignored, a value of an unexpected shape reads as absent). anyValueSchema documents the shape.
 */
const attributesSchema = z.array(z.unknown()).optional();

/** Status.code: 0 unset, 1 ok, 2 error; some encoders write the enum name. */
const statusSchema = z.object({
  code: z.union([z.number().int(), z.enum(['STATUS_CODE_UNSET', 'STATUS_CODE_OK', 'STATUS_CODE_ERROR'])]).optional(),
  message: z.string().optional(),
});

export const spanEventOtlpSchema = z.object({
  timeUnixNano: int64Schema.optional(),
  name: z.string().optional(),
  attributes: attributesSchema,
});

/** One OTLP span. Ids are hex (32 digits for a trace, 16 for a span), not all zeros. */
export const otlpSpanSchema = z.object({
  traceId: z.string().regex(/^(?!0+$)[0-9a-fA-F]{32}$/, 'traceId must be 32 hex digits, not all zero'),
  spanId: z.string().regex(/^(?!0+$)[0-9a-fA-F]{16}$/, 'spanId must be 16 hex digits, not all zero'),
  parentSpanId: z.string().regex(/^([0-9a-fA-F]{16})?$/, 'parentSpanId must be 16 hex digits or empty').optional(),
  name: z.string().optional(),
  kind: z.union([z.number().int(), z.string()]).optional(),
  startTimeUnixNano: int64Schema,
  endTimeUnixNano: int64Schema.optional(),
  attributes: attributesSchema,
  events: z.array(spanEventOtlpSchema).optional(),
  status: statusSchema.optional(),
});
export type OtlpSpan = z.infer<typeof otlpSpanSchema>;

const scopeSpansSchema = z.object({
  scope: z.object({ name: z.string().optional(), version: z.string().optional() }).optional(),
  // Spans are checked one by one in the mapper (a bad span is skipped, not the whole batch).
  spans: z.array(z.record(z.string(), z.unknown())).optional(),
});

const resourceSpansSchema = z.object({
  resource: z.object({ attributes: attributesSchema }).optional(),
  scopeSpans: z.array(scopeSpansSchema).optional(),
  /** OTLP before 0.15 (2022) called scopeSpans this. */
  instrumentationLibrarySpans: z.array(scopeSpansSchema).optional(),
});
export type OtlpResourceSpans = z.infer<typeof resourceSpansSchema>;

/** ExportTraceServiceRequest in OTLP/JSON. */
export const exportTraceServiceRequestSchema = z.object({ resourceSpans: z.array(resourceSpansSchema) });
export type ExportTraceServiceRequest = z.infer<typeof exportTraceServiceRequestSchema>;

/** Why an OTLP message was refused (labels DLQ headers and counters). */
export type OtlpRejectReason = 'oversize' | 'invalid_utf8' | 'invalid_json' | 'not_an_object' | 'schema_violation';

export type OtlpDecoded = { ok: true; request: ExportTraceServiceRequest } | { ok: false; reason: OtlpRejectReason; message: string };

/** Largest accepted OTLP message (bytes): a collector batch of many spans. Default 16 MiB. */
export const MAX_OTLP_MESSAGE_BYTES = 16 * 1024 * 1024;

/**
 * Decodes one Kafka message value written by the collector's kafka exporter with
 * `encoding: otlp_json`. Never throws; a refusal says what to change. A protobuf payload
 * (`encoding: otlp_proto`, the exporter's default) is recognised and refused with that advice.
 */
export function decodeOtlpJson(value: Uint8Array | string | null, maxBytes = MAX_OTLP_MESSAGE_BYTES): OtlpDecoded {
  const text = messageText(value, maxBytes, `not UTF-8 text: ${PROTO_HINT}`);
  if (typeof text !== 'string') return text;
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    const hint = /^\s*[{[]/.test(text) ? '' : ` (${PROTO_HINT})`;
    return { ok: false, reason: 'invalid_json', message: `invalid JSON: ${(err as Error).message}${hint}` };
  }
  if (json === null || typeof json !== 'object' || Array.isArray(json)) {
    return { ok: false, reason: 'not_an_object', message: 'an OTLP trace export request must be a JSON object with resourceSpans' };
  }
  const parsed = exportTraceServiceRequestSchema.safeParse(json);
  if (!parsed.success) {
    const issues = parsed.error.issues.slice(0, 5).map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`);
    return { ok: false, reason: 'schema_violation', message: `not an OTLP ExportTraceServiceRequest: ${issues.join('; ')}` };
  }
  return { ok: true, request: parsed.data };
}

const PROTO_HINT = 'is the exporter writing otlp_proto? set `encoding: otlp_json` on the collector\'s kafka exporter';
