import { describe, expect, it } from 'vitest';
import type { SpanEvent } from '../../../src/contracts/span.ts';
import { argsHash } from '../../../src/sdk/emitter.ts';
import { mapOtlpRequest, nanosToMs } from '../../../src/otlp/map-otlp.ts';
import { DEFAULT_OTLP_MAPPING, parseAttrKeys } from '../../../src/otlp/mapping-options.ts';
import type { ExportTraceServiceRequest, KeyValue } from '../../../src/otlp/otlp-json.ts';

const TRACE = '5b8efff798038103d269b633813fc60c';
const ROOT = 'eee19b7ec3c1b174';
const CHILD = 'eee19b7ec3c1b173';
const T0 = 1_763_900_000_000; // epoch ms
const ns = (ms: number) => `${ms}000000`;

/** An attribute as the Go collector writes it (int64 as a decimal string). */
function kv(key: string, value: string | number | boolean | string[]): KeyValue {
  if (Array.isArray(value)) return { key, value: { arrayValue: { values: value.map((v) => ({ stringValue: v })) } } };
  if (typeof value === 'string') return { key, value: { stringValue: value } };
  if (typeof value === 'boolean') return { key, value: { boolValue: value } };
  return Number.isInteger(value) ? { key, value: { intValue: String(value) } } : { key, value: { doubleValue: value } };
}
const kvs = (attrs: Record<string, string | number | boolean | string[]>) => Object.entries(attrs).map(([k, v]) => kv(k, v));

interface SpanSpec {
  name?: string;
  attrs?: Record<string, string | number | boolean | string[]>;
  spanId?: string;
  parentSpanId?: string;
  startMs?: number;
  endMs?: number;
  status?: { code?: number | string; message?: string };
  events?: Array<{ name: string; attrs: Record<string, string | number | boolean>; atMs?: number }>;
}

function span(s: SpanSpec): Record<string, unknown> {
  return {
    traceId: TRACE,
    spanId: s.spanId ?? CHILD,
    ...(s.parentSpanId !== undefined ? { parentSpanId: s.parentSpanId } : {}),
    name: s.name ?? 'span',
    kind: 1,
    startTimeUnixNano: ns(s.startMs ?? T0),
    endTimeUnixNano: ns(s.endMs ?? T0 + 500),
    attributes: kvs(s.attrs ?? {}),
    ...(s.events ? { events: s.events.map((e) => ({ name: e.name, timeUnixNano: ns(e.atMs ?? T0 + 600), attributes: kvs(e.attrs) })) } : {}),
    ...(s.status ? { status: s.status } : {}),
  };
}

function request(spans: Array<Record<string, unknown>>, resource: Record<string, string> = { 'service.name': 'support-bot', 'tenant.id': 'acme', 'user.id': 'u-1' }): ExportTraceServiceRequest {
  return { resourceSpans: [{ resource: { attributes: kvs(resource) }, scopeSpans: [{ scope: { name: 'test' }, spans }] }] };
}

const mapOne = (s: SpanSpec, resource?: Record<string, string>) => mapOtlpRequest(request([span(s)], resource));
const only = (events: SpanEvent[]) => {
  expect(events).toHaveLength(1);
  return events[0]!;
};

describe('mapOtlpRequest: model calls', () => {
  const cases: Array<{ name: string; attrs: Record<string, string | number>; want: Record<string, unknown> }> = [
    {
      name: 'current names',
      attrs: { 'gen_ai.operation.name': 'chat', 'gen_ai.request.model': 'gpt-4o', 'gen_ai.response.model': 'gpt-4o-2024-08-06', 'gen_ai.usage.input_tokens': 1200, 'gen_ai.usage.output_tokens': 80, 'gen_ai.usage.cache_read.input_tokens': 1000 },
      want: { model: 'gpt-4o-2024-08-06', input_tokens: 1200, output_tokens: 80, cached_tokens: 1000, latency_ms: 500 },
    },
    {
      name: 'deprecated token names and gen_ai.system',
      attrs: { 'gen_ai.system': 'openai', 'gen_ai.operation.name': 'text_completion', 'gen_ai.request.model': 'gpt-4o-mini', 'gen_ai.usage.prompt_tokens': 30, 'gen_ai.usage.completion_tokens': 7, 'gen_ai.usage.cache_read_input_tokens': 10 },
      want: { model: 'gpt-4o-mini', input_tokens: 30, output_tokens: 7, cached_tokens: 10, latency_ms: 500 },
    },
    {
      name: 'generate_content without usage: zero tokens',
      attrs: { 'gen_ai.operation.name': 'generate_content', 'gen_ai.request.model': 'gemini-2.5-pro' },
      want: { model: 'gemini-2.5-pro', input_tokens: 0, output_tokens: 0, latency_ms: 500 },
    },
    {
      name: 'no model at all: "unknown" (still counted against the step cap)',
      attrs: { 'gen_ai.operation.name': 'chat', 'gen_ai.usage.input_tokens': 5 },
      want: { model: 'unknown', input_tokens: 5, output_tokens: 0, latency_ms: 500 },
    },
    {
      name: 'no operation name (semconv before 1.27): model + usage make it a call',
      attrs: { 'gen_ai.system': 'anthropic', 'gen_ai.request.model': 'claude-sonnet-4', 'gen_ai.usage.input_tokens': 9, 'gen_ai.usage.output_tokens': 3 },
      want: { model: 'claude-sonnet-4', input_tokens: 9, output_tokens: 3, latency_ms: 500 },
    },
    {
      name: 'current name wins over the deprecated one',
      attrs: { 'gen_ai.operation.name': 'chat', 'gen_ai.request.model': 'm', 'gen_ai.usage.input_tokens': 11, 'gen_ai.usage.prompt_tokens': 99 },
      want: { model: 'm', input_tokens: 11, output_tokens: 0, latency_ms: 500 },
    },
  ];
  it.each(cases)('$name', ({ attrs, want }) => {
    const result = mapOne({ name: 'chat', attrs, parentSpanId: ROOT });
    const event = only(result.events);
    expect(event.kind).toBe('llm_call');
    if (event.kind !== 'llm_call') return;
    expect(event.llm).toEqual(want);
    expect(event.ts).toBe(T0 + 500); // the call is complete when the span ends
    expect(event).toMatchObject({ run_id: TRACE, span_id: CHILD, parent_span_id: ROOT, event_id: `${TRACE}:${CHILD}`, agent_id: 'support-bot', tenant_id: 'acme', user_id: 'u-1' });
  });

  it('puts the model and provider in the cohort attributes', () => {
    const event = only(mapOne({ attrs: { 'gen_ai.operation.name': 'chat', 'gen_ai.system': 'openai', 'gen_ai.request.model': 'gpt-4o', 'gen_ai.conversation.id': 'conv-9' } }, { 'service.name': 's', 'deployment.environment.name': 'prod', 'cloud.region': 'eu-west-1' }).events);
    expect(event.attrs).toEqual({ model_version: 'gpt-4o', provider: 'openai', conversation_id: 'conv-9', env: 'prod', region: 'eu-west-1' });
  });

  it('keeps a 64-bit token count given as a JS number (the JS SDK writes intValue as a number)', () => {
    const raw = span({ attrs: { 'gen_ai.operation.name': 'chat', 'gen_ai.request.model': 'm' } });
    (raw.attributes as KeyValue[]).push({ key: 'gen_ai.usage.input_tokens', value: { intValue: 4096 } });
    const event = only(mapOtlpRequest(request([raw])).events);
    expect(event.kind === 'llm_call' && event.llm.input_tokens).toBe(4096);
  });
});

describe('mapOtlpRequest: attribute values of the wrong shape read as absent', () => {
  it.each([
    ['intValue that is not an integer', { intValue: 'x1' }],
    ['stringValue that is a number', { stringValue: 5 }],
    ['no value at all', undefined],
    ['an unknown member', { fooValue: 1 }],
  ])('%s', (_name, value) => {
    const raw = span({ attrs: { 'gen_ai.operation.name': 'chat', 'gen_ai.request.model': 'm', 'gen_ai.usage.output_tokens': 3 } });
    (raw.attributes as unknown[]).push({ key: 'gen_ai.usage.input_tokens', value }, { nokey: true }, 'junk');
    const event = only(mapOtlpRequest(request([raw])).events);
    expect(event.kind === 'llm_call' && event.llm).toMatchObject({ input_tokens: 0, output_tokens: 3 });
  });
});

describe('mapOtlpRequest: tool calls', () => {
  it('hashes the arguments as the SDK does (key order does not matter) and never keeps them', () => {
    const a = only(mapOne({ attrs: { 'gen_ai.operation.name': 'execute_tool', 'gen_ai.tool.name': 'search', 'gen_ai.tool.call.arguments': '{"q":"rust","page":2}' } }).events);
    const b = only(mapOne({ attrs: { 'gen_ai.operation.name': 'execute_tool', 'gen_ai.tool.name': 'search', 'gen_ai.tool.call.arguments': '{ "page": 2, "q": "rust" }' } }).events);
    expect(a.kind === 'tool_call' && a.tool).toEqual({ name: 'search', args_hash: argsHash({ q: 'rust', page: 2 }), status: 'ok', duration_ms: 500 });
    expect(b.kind === 'tool_call' && b.tool.args_hash).toBe(argsHash({ q: 'rust', page: 2 }));
    expect(JSON.stringify(a)).not.toContain('rust');
  });

  const cases: Array<{ name: string; spec: SpanSpec; want: Record<string, unknown> }> = [
    {
      name: 'no arguments: no args_hash',
      spec: { attrs: { 'gen_ai.operation.name': 'execute_tool', 'gen_ai.tool.name': 'now' } },
      want: { name: 'now', status: 'ok', duration_ms: 500 },
    },
    {
      name: 'arguments that are not JSON are hashed as text',
      spec: { attrs: { 'gen_ai.operation.name': 'execute_tool', 'gen_ai.tool.name': 'sh', 'gen_ai.tool.call.arguments': 'ls -la' } },
      want: { name: 'sh', args_hash: argsHash('ls -la'), status: 'ok', duration_ms: 500 },
    },
    {
      name: 'status ERROR with error.type',
      spec: { attrs: { 'gen_ai.operation.name': 'execute_tool', 'gen_ai.tool.name': 'fetch', 'error.type': 'HTTPError' }, status: { code: 2, message: '502 from upstream' } },
      want: { name: 'fetch', status: 'error', duration_ms: 500, error_type: 'HTTPError' },
    },
    {
      name: 'status ERROR (enum name) that timed out',
      spec: { attrs: { 'gen_ai.operation.name': 'execute_tool', 'gen_ai.tool.name': 'fetch' }, status: { code: 'STATUS_CODE_ERROR', message: 'request timed out after 30s' } },
      want: { name: 'fetch', status: 'timeout', duration_ms: 500 },
    },
    {
      name: 'tool name only in the span name (execute_tool {name})',
      spec: { name: 'execute_tool get_weather', attrs: { 'gen_ai.operation.name': 'execute_tool' } },
      want: { name: 'get_weather', status: 'ok', duration_ms: 500 },
    },
    {
      name: 'no operation name: gen_ai.tool.name makes it a tool call',
      spec: { attrs: { 'gen_ai.tool.name': 'lookup', 'gen_ai.tool.input': '{"id":7}' } },
      want: { name: 'lookup', args_hash: argsHash({ id: 7 }), status: 'ok', duration_ms: 500 },
    },
  ];
  it.each(cases)('$name', ({ spec, want }) => {
    const event = only(mapOne(spec).events);
    expect(event.kind).toBe('tool_call');
    expect(event.kind === 'tool_call' && event.tool).toEqual(want);
  });

  it('skips a tool span with no name anywhere', () => {
    const result = mapOne({ name: 'tool', attrs: { 'gen_ai.operation.name': 'execute_tool' } });
    expect(result.events).toEqual([]);
    expect(result.skipped).toEqual({ tool_without_name: 1 });
  });
});

describe('mapOtlpRequest: agent runs', () => {
  it('invoke_agent gives run_start at its start and run_end at its end; ERROR → status error', () => {
    const result = mapOne({ spanId: ROOT, name: 'invoke_agent planner', attrs: { 'gen_ai.operation.name': 'invoke_agent', 'gen_ai.agent.id': 'planner-7', 'gen_ai.agent.name': 'Planner' }, startMs: T0, endMs: T0 + 9_000, status: { code: 2 } });
    expect(result.events.map((e) => [e.kind, e.ts, e.event_id, e.agent_id])).toEqual([
      ['run_start', T0, `${TRACE}:${ROOT}:start`, 'planner-7'],
      ['run_end', T0 + 9_000, `${TRACE}:${ROOT}:end`, 'planner-7'],
    ]);
    expect(result.events[1]!.kind === 'run_end' && result.events[1]!.status).toBe('error');
  });

  it('children inherit the agent, tenant and user of their ancestors in the payload; nested agents are steps of the same run', () => {
    const spans = [
      span({ spanId: ROOT, attrs: { 'gen_ai.operation.name': 'invoke_agent', 'gen_ai.agent.name': 'planner', 'tenant.id': 'globex', 'enduser.id': 'u-9' }, startMs: T0, endMs: T0 + 5_000 }),
      span({ spanId: 'aaaaaaaaaaaaaaa1', parentSpanId: ROOT, attrs: { 'gen_ai.operation.name': 'invoke_agent', 'gen_ai.agent.name': 'researcher' }, startMs: T0 + 100, endMs: T0 + 4_000 }),
      span({ spanId: 'aaaaaaaaaaaaaaa2', parentSpanId: 'aaaaaaaaaaaaaaa1', attrs: { 'gen_ai.operation.name': 'chat', 'gen_ai.request.model': 'gpt-4o' }, startMs: T0 + 200, endMs: T0 + 1_000 }),
    ];
    const result = mapOtlpRequest(request(spans, { 'service.name': 'svc' }));
    expect(result.skipped).toEqual({ nested_agent: 1 });
    expect(result.events.map((e) => [e.kind, e.agent_id, e.tenant_id, e.user_id])).toEqual([
      ['run_start', 'planner', 'globex', 'u-9'],
      ['llm_call', 'researcher', 'globex', 'u-9'],
      ['run_end', 'planner', 'globex', 'u-9'],
    ]);
  });

  it('create_agent and other operations are skipped and counted', () => {
    const result = mapOtlpRequest(
      request([
        span({ spanId: 'aaaaaaaaaaaaaaa1', attrs: { 'gen_ai.operation.name': 'create_agent', 'gen_ai.agent.name': 'x' } }),
        span({ spanId: 'aaaaaaaaaaaaaaa2', attrs: { 'gen_ai.operation.name': 'embeddings', 'gen_ai.request.model': 'text-embedding-3-small' } }),
        span({ spanId: 'aaaaaaaaaaaaaaa3', name: 'GET /api/chat', attrs: { 'http.request.method': 'GET' } }),
        span({ spanId: 'aaaaaaaaaaaaaaa4', name: 'chat', attrs: { 'http.route': '/chat' } }),
      ]),
    );
    expect(result.events).toEqual([]);
    expect(result.skipped).toEqual({ unsupported_operation: 2, not_gen_ai: 2 });
    expect(result.spans).toBe(4);
  });
});

describe('mapOtlpRequest: evaluations', () => {
  const cases: Array<{ name: string; attrs: Record<string, string | number>; want?: Record<string, unknown>; skipped?: string }> = [
    { name: 'score value in 0..1', attrs: { 'gen_ai.evaluation.name': 'Relevance', 'gen_ai.evaluation.score.value': 0.75 }, want: { score: 0.75, rubric: 'Relevance' } },
    { name: 'pass label without a value', attrs: { 'gen_ai.evaluation.name': 'Correctness', 'gen_ai.evaluation.score.label': 'pass' }, want: { score: 1, rubric: 'Correctness' } },
    { name: 'not_relevant label', attrs: { 'gen_ai.evaluation.score.label': 'not_relevant' }, want: { score: 0 } },
    { name: 'value on a 1–5 scale: refused, not rescaled', attrs: { 'gen_ai.evaluation.score.value': 4 }, skipped: 'score_out_of_range' },
    { name: 'unknown label, no value', attrs: { 'gen_ai.evaluation.name': 'Tone', 'gen_ai.evaluation.score.label': 'friendly' }, skipped: 'evaluation_without_score' },
  ];
  it.each(cases)('span event gen_ai.evaluation.result: $name', ({ attrs, want, skipped }) => {
    const result = mapOne({ spanId: CHILD, attrs: { 'gen_ai.operation.name': 'chat', 'gen_ai.request.model': 'gpt-4o' }, events: [{ name: 'gen_ai.evaluation.result', attrs, atMs: T0 + 2_000 }] });
    const judges = result.events.filter((e) => e.kind === 'judge_score');
    if (want) {
      const judge = only(judges);
      expect(judge.kind === 'judge_score' && judge.judge).toEqual(want);
      expect(judge).toMatchObject({ ts: T0 + 2_000, event_id: `${TRACE}:${CHILD}:eval0`, span_id: `${CHILD}.eval0`, parent_span_id: CHILD, attrs: { model_version: 'gpt-4o' } });
    } else {
      expect(judges).toEqual([]);
      expect(result.skipped).toEqual({ [skipped!]: 1 });
    }
  });

  it('an evaluation recorded as span attributes is a judge score too', () => {
    const event = only(mapOne({ attrs: { 'gen_ai.evaluation.name': 'Groundedness', 'gen_ai.evaluation.score.value': 0.2 } }).events);
    expect(event.kind === 'judge_score' && event.judge).toEqual({ score: 0.2, rubric: 'Groundedness' });
  });
});

describe('mapOtlpRequest: identity and configuration', () => {
  it('falls back to "unknown" when no tenant or user key is found', () => {
    const event = only(mapOne({ attrs: { 'gen_ai.operation.name': 'chat', 'gen_ai.request.model': 'm' } }, { 'service.name': 'bot' }).events);
    expect(event).toMatchObject({ agent_id: 'bot', tenant_id: 'unknown', user_id: 'unknown' });
  });

  it('takes run_id from a configured attribute, and the trace id where a span lacks it', () => {
    const options = { ...DEFAULT_OTLP_MAPPING, runIdKey: 'gen_ai.conversation.id' };
    const result = mapOtlpRequest(
      request([
        span({ spanId: 'aaaaaaaaaaaaaaa1', attrs: { 'gen_ai.operation.name': 'chat', 'gen_ai.request.model': 'm', 'gen_ai.conversation.id': 'conv-1' } }),
        span({ spanId: 'aaaaaaaaaaaaaaa2', attrs: { 'gen_ai.operation.name': 'chat', 'gen_ai.request.model': 'm' } }),
      ]),
      options,
    );
    expect(result.events.map((e) => e.run_id)).toEqual(['conv-1', TRACE]);
  });

  it('reads configured keys and extra cohort attributes', () => {
    const attrKeys = parseAttrKeys('plan_tier=app.plan|app.tier');
    expect(typeof attrKeys).toBe('object');
    const options = { ...DEFAULT_OTLP_MAPPING, tenantKeys: ['org'], attrKeys: attrKeys as Record<string, string[]> };
    const spans = [span({ attrs: { 'gen_ai.operation.name': 'chat', 'gen_ai.request.model': 'm', org: 'o-1', 'app.tier': 'pro' } })];
    const event = only(mapOtlpRequest(request(spans), options).events);
    expect(event).toMatchObject({ tenant_id: 'o-1', attrs: { plan_tier: 'pro' } });
    expect(parseAttrKeys('oops')).toMatch(/name=otel.attribute/);
  });
});

describe('mapOtlpRequest: bad spans and ordering', () => {
  it('skips invalid spans and keeps the rest of the batch', () => {
    const good = span({ attrs: { 'gen_ai.operation.name': 'chat', 'gen_ai.request.model': 'm' } });
    const result = mapOtlpRequest(request([{ ...good, traceId: 'zz' }, { ...good, spanId: '0000000000000000' }, { ...good, startTimeUnixNano: undefined }, good]));
    expect(result.events).toHaveLength(1);
    expect(result.skipped).toEqual({ invalid_span: 3 });
    expect(result.issues[0]).toMatch(/traceId/);
  });

  it('skips an event the contract refuses (negative tokens) and says why', () => {
    const result = mapOne({ attrs: { 'gen_ai.operation.name': 'chat', 'gen_ai.request.model': 'm', 'gen_ai.usage.input_tokens': -5 } });
    expect(result.events).toEqual([]);
    expect(result.skipped).toEqual({ schema_violation: 1 });
    expect(result.issues[0]).toMatch(/input_tokens/);
  });

  it('orders the events of a payload by event time, whatever order the spans came in', () => {
    const spans = [3, 1, 2].map((i) => span({ spanId: `aaaaaaaaaaaaaaa${i}`, attrs: { 'gen_ai.operation.name': 'execute_tool', 'gen_ai.tool.name': `t${i}` }, startMs: T0 + i * 1_000, endMs: T0 + i * 1_000 + 10 }));
    expect(mapOtlpRequest(request(spans)).events.map((e) => e.kind === 'tool_call' && e.tool.name)).toEqual(['t1', 't2', 't3']);
  });

  it('accepts the pre-1.0 instrumentationLibrarySpans envelope', () => {
    const result = mapOtlpRequest({ resourceSpans: [{ instrumentationLibrarySpans: [{ spans: [span({ attrs: { 'gen_ai.tool.name': 'x' } })] }] }] });
    expect(result.events).toHaveLength(1);
  });

  it.each([
    ['1763900000123456789', 1_763_900_000_123],
    ['999999', 0],
    [1_763_900_000_123_456_000, 1_763_900_000_123],
  ] as const)('nanosToMs(%s) = %s', (nanos, ms) => {
    expect(nanosToMs(nanos)).toBe(ms);
  });
});
