import { context, trace, SpanStatusCode, type Attributes, type Span } from '@opentelemetry/api';
import { JsonTraceSerializer, ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base';

/** One span of a scripted agent trace: started and ended at fixed times (epoch ms). */
export interface ScriptedSpan {
  name: string;
  attributes: Attributes;
  startMs: number;
  endMs: number;
  error?: string;
  /** Index of the parent in the script (earlier entry); none: a root span. */
  parent?: number;
  events?: Array<{ name: string; attributes: Attributes; atMs: number }>;
}

/**
 * Records `script` with the real OpenTelemetry JS SDK (BasicTracerProvider, in-memory exporter)
 * and returns the finished spans: what an instrumented agent hands its OTLP exporter.
 */
export async function recordSpans(script: readonly ScriptedSpan[], resource: Attributes): Promise<ReadableSpan[]> {
  const exporter = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({ resource: resourceFromAttributes(resource), spanProcessors: [new SimpleSpanProcessor(exporter)] });
  const tracer = provider.getTracer('runwarden-test-agent', '1.0.0');
  const started: Span[] = [];
  for (const s of script) {
    const parent = s.parent === undefined ? undefined : started[s.parent];
    const ctx = parent ? trace.setSpan(context.active(), parent) : context.active();
    started.push(tracer.startSpan(s.name, { attributes: s.attributes, startTime: s.startMs }, ctx));
  }
  // End children before parents, as a running agent does (the SDK exports spans as they end).
  for (let i = script.length - 1; i >= 0; i--) {
    const s = script[i]!;
    const span = started[i]!;
    for (const e of s.events ?? []) span.addEvent(e.name, e.attributes, e.atMs);
    if (s.error !== undefined) span.setStatus({ code: SpanStatusCode.ERROR, message: s.error });
    span.end(s.endMs);
  }
  await provider.forceFlush();
  const spans = exporter.getFinishedSpans();
  await provider.shutdown();
  return spans;
}

/** The OTLP/JSON ExportTraceServiceRequest bytes the SDK's JSON serializer writes (the collector's otlp_json). */
export function otlpJson(spans: ReadableSpan[]): Uint8Array {
  const bytes = JsonTraceSerializer.serializeRequest(spans);
  if (!bytes) throw new Error('JsonTraceSerializer wrote nothing');
  return bytes;
}

/** The OTLP protobuf bytes (the collector's otlp_proto encoding). */
export function otlpProto(spans: ReadableSpan[]): Uint8Array {
  const bytes = ProtobufTraceSerializer.serializeRequest(spans);
  if (!bytes) throw new Error('ProtobufTraceSerializer wrote nothing');
  return bytes;
}
