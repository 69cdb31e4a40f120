import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DEFAULT_MAX_FUTURE_MS, DLQ_REASONS, MAX_MESSAGE_BYTES, decodeSpan, type DecodeOptions, type DlqReason } from '../../../src/ingest/decode.ts';
import { MAX_TS_MS, isoWithOffset, offsetArb, spanEventArb } from '../contracts/arbitraries.ts';

const NOW = Date.UTC(2026, 0, 15, 12, 0, 0);
const opts = { nowMs: NOW };

const base = {
  schema: 'runwarden.span/v1',
  event_id: 'evt-1',
  ts: NOW - 1_000,
  run_id: 'run-1',
  span_id: 'span-1',
  agent_id: 'support-bot',
  tenant_id: 'acme',
  user_id: 'u-42',
};
const llmCall = {
  ...base,
  kind: 'llm_call',
  llm: { model: 'gpt-x', input_tokens: 100, output_tokens: 20, cost_usd: 0.01, latency_ms: 850 },
};
const toolCall = { ...base, kind: 'tool_call', tool: { name: 'search', args_hash: 'ab12', status: 'ok', duration_ms: 12 } };
const runStart = { ...base, kind: 'run_start', limits: { max_llm_calls: 10, max_tokens: 5000, max_cost_usd: 1 } };
const runEnd = { ...base, kind: 'run_end', status: 'ok' };
const judge = { ...base, kind: 'judge_score', judge: { score: 0.8 } };

type Json = Record<string, unknown>;

/** A copy of `event` with `path` (dotted) set to `value`, or removed when `value` is `undefined`. */
function withField(event: Json, path: string, value: unknown): Json {
  const copy = structuredClone(event);
  const keys = path.split('.');
  const last = keys.pop() as string;
  let node: Json = copy;
  for (const k of keys) node = (node[k] ??= {}) as Json;
  if (value === undefined) delete node[last];
  else node[last] = value;
  return copy;
}

/** JSON text with a raw literal (e.g. `1e999`, which JSON.stringify cannot produce) at `path`. */
function withRaw(event: Json, path: string, literal: string): string {
  const marker = '__RAW_LITERAL__';
  return JSON.stringify(withField(event, path, marker)).replace(`"${marker}"`, literal);
}

const reject = (value: Uint8Array | string | null, options: DecodeOptions = opts) => {
  const decoded = decodeSpan(value, options);
  if (decoded.ok) throw new Error(`expected a rejection, got ${JSON.stringify(decoded.event)}`);
  return decoded;
};

describe('decodeSpan accepts', () => {
  it.each([
    ['llm_call', llmCall],
    ['tool_call', toolCall],
    ['run_start', runStart],
    ['run_end', runEnd],
    ['judge_score', judge],
    ['side_effect without a tool', { ...base, kind: 'side_effect' }],
    ['attrs', { ...runEnd, attrs: { model_version: 'v2', plan_tier: 'free', region: '' } }],
    ['ids at their limits', { ...runEnd, event_id: 'e'.repeat(64), run_id: 'r'.repeat(128), span_id: 's'.repeat(64) }],
    ['attr value of 256 characters', { ...runEnd, attrs: { k: 'v'.repeat(256) } }],
    ['ts 0', { ...runEnd, ts: 0 }],
    ['ts exactly at the future limit', { ...runEnd, ts: NOW + DEFAULT_MAX_FUTURE_MS }],
    ['judge scores 0 and 1', { ...judge, judge: { score: 1 } }],
  ])('%s', (_name, event) => {
    const decoded = decodeSpan(JSON.stringify(event), opts);
    expect(decoded).toMatchObject({ ok: true, event: { kind: event.kind } });
  });

  it('bytes as well as strings, with a UTF-8 BOM and multi-byte characters', () => {
    const event = { ...runEnd, user_id: 'ユーザー-😀' };
    const bytes = new TextEncoder().encode(`\uFEFF${JSON.stringify(event)}`);
    expect(decodeSpan(bytes, opts)).toEqual({ ok: true, event });
  });

  it('ignores unknown properties (forward compatible) and drops payloads of other kinds', () => {
    const decoded = decodeSpan(JSON.stringify({ ...runEnd, future_field: 1, llm: llmCall.llm }), opts);
    expect(decoded).toEqual({ ok: true, event: runEnd });
  });
});

describe('decodeSpan normalises ISO-8601 timestamps to epoch ms', () => {
  it.each([
    ['2026-01-15T11:00:00Z', Date.UTC(2026, 0, 15, 11)],
    ['2026-01-15T11:00:00.250Z', Date.UTC(2026, 0, 15, 11, 0, 0, 250)],
    ['2026-01-15T11:00:00.5Z', Date.UTC(2026, 0, 15, 11, 0, 0, 500)],
    // Sub-millisecond digits are truncated, not rounded.
    ['2026-01-15T11:00:00.123999Z', Date.UTC(2026, 0, 15, 11, 0, 0, 123)],
    ['2026-01-15T16:30:00+05:30', Date.UTC(2026, 0, 15, 11)],
    ['2026-01-15T16:45:00+05:45', Date.UTC(2026, 0, 15, 11)],
    ['2026-01-15T03:00:00-08:00', Date.UTC(2026, 0, 15, 11)],
    ['2026-01-15T11:00:00+00:00', Date.UTC(2026, 0, 15, 11)],
    ['2026-01-15T11:00:00-00:00', Date.UTC(2026, 0, 15, 11)],
    ['2026-01-16T01:00:00+14:00', Date.UTC(2026, 0, 15, 11)],
    ['2026-01-14T23:00:00-12:00', Date.UTC(2026, 0, 15, 11)],
    // A local date before 1970 whose instant is not.
    ['1969-12-31T23:00:00-01:00', 0],
    ['2024-02-29T00:00:00Z', Date.UTC(2024, 1, 29)],
  ])('%s', (ts, expected) => {
    expect(decodeSpan(JSON.stringify({ ...runEnd, ts }), opts)).toEqual({ ok: true, event: { ...runEnd, ts: expected } });
  });
});

describe('decodeSpan rejects bad input (SPEC §6) with the reason and a message naming the field', () => {
  const tooLong = (n: number) => 'x'.repeat(n);
  const manyAttrs = Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`k${i}`, 'v']));

  // [case, message value, DLQ reason, text the message must contain]
  const cases: Array<[string, string | Uint8Array | null, DlqReason, string]> = [
    // invalid JSON
    ['truncated JSON', '{"schema":"runwarden.span/v1",', 'invalid_json', 'invalid JSON'],
    ['not JSON at all', 'hello', 'invalid_json', 'invalid JSON'],
    ['empty message', '', 'invalid_json', 'invalid JSON'],
    ['null value (tombstone)', null, 'invalid_json', 'null'],
    ['NaN literal', withRaw(llmCall, 'llm.cost_usd', 'NaN'), 'invalid_json', 'invalid JSON'],
    ['trailing garbage', `${JSON.stringify(runEnd)}}`, 'invalid_json', 'invalid JSON'],
    // not an object
    ['array', JSON.stringify([runEnd]), 'not_an_object', 'JSON object'],
    ['number', '42', 'not_an_object', 'JSON object'],
    ['string', '"runwarden.span/v1"', 'not_an_object', 'JSON object'],
    ['JSON null', 'null', 'not_an_object', 'JSON object'],
    // unknown version
    ['v2', JSON.stringify({ ...runEnd, schema: 'runwarden.span/v2' }), 'unknown_version', 'runwarden.span/v2'],
    ['missing schema', JSON.stringify(withField(runEnd, 'schema', undefined)), 'unknown_version', 'schema'],
    ['schema not a string', JSON.stringify({ ...runEnd, schema: 1 }), 'unknown_version', 'schema'],
    // schema violations: missing required fields
    ...(['event_id', 'ts', 'run_id', 'span_id', 'agent_id', 'tenant_id', 'user_id'] as const).map(
      (field): [string, string, DlqReason, string] => [
        `missing ${field}`,
        JSON.stringify(withField(runEnd, field, undefined)),
        'schema_violation',
        field,
      ],
    ),
    ['missing kind', JSON.stringify(withField(runEnd, 'kind', undefined)), 'schema_violation', 'kind'],
    ['missing status on run_end', JSON.stringify(withField(runEnd, 'status', undefined)), 'schema_violation', 'status'],
    ['missing tool.name', JSON.stringify(withField(toolCall, 'tool.name', undefined)), 'schema_violation', 'tool.name'],
    ['missing llm.output_tokens', JSON.stringify(withField(llmCall, 'llm.output_tokens', undefined)), 'schema_violation', 'llm.output_tokens'],
    ['empty event_id', JSON.stringify({ ...runEnd, event_id: '' }), 'schema_violation', 'event_id'],
    // wrong kind payload
    ['llm_call carrying a tool payload', JSON.stringify({ ...toolCall, kind: 'llm_call' }), 'schema_violation', 'llm'],
    ['judge_score without judge', JSON.stringify({ ...base, kind: 'judge_score', llm: llmCall.llm }), 'schema_violation', 'judge'],
    ['payload not an object', JSON.stringify({ ...llmCall, llm: 'gpt-x' }), 'schema_violation', 'llm'],
    // too-long ids and attrs
    ['event_id of 65', JSON.stringify({ ...runEnd, event_id: tooLong(65) }), 'schema_violation', 'event_id'],
    ['span_id of 65', JSON.stringify({ ...runEnd, span_id: tooLong(65) }), 'schema_violation', 'span_id'],
    ['parent_span_id of 65', JSON.stringify({ ...runEnd, parent_span_id: tooLong(65) }), 'schema_violation', 'parent_span_id'],
    ['run_id of 129', JSON.stringify({ ...runEnd, run_id: tooLong(129) }), 'schema_violation', 'run_id'],
    ['agent_id of 129', JSON.stringify({ ...runEnd, agent_id: tooLong(129) }), 'schema_violation', 'agent_id'],
    ['tenant_id of 129', JSON.stringify({ ...runEnd, tenant_id: tooLong(129) }), 'schema_violation', 'tenant_id'],
    ['user_id of 129', JSON.stringify({ ...runEnd, user_id: tooLong(129) }), 'schema_violation', 'user_id'],
    ['attrs value of 257', JSON.stringify({ ...runEnd, attrs: { region: tooLong(257) } }), 'schema_violation', 'attrs.region'],
    ['attrs value not a string', JSON.stringify({ ...runEnd, attrs: { tier: 3 } }), 'schema_violation', 'attrs.tier'],
    ['attrs key of 129', JSON.stringify({ ...runEnd, attrs: { [tooLong(129)]: 'v' } }), 'schema_violation', 'attrs'],
    ['65 attrs', JSON.stringify({ ...runEnd, attrs: manyAttrs }), 'schema_violation', 'attrs'],
    // bad enums
    ['unknown kind', JSON.stringify({ ...runEnd, kind: 'thought' }), 'schema_violation', 'kind'],
    ['kind of the wrong type', JSON.stringify({ ...runEnd, kind: 3 }), 'schema_violation', 'kind'],
    ['unknown run status', JSON.stringify({ ...runEnd, status: 'fine' }), 'schema_violation', 'status'],
    ['unknown tool status', JSON.stringify(withField(toolCall, 'tool.status', 'maybe')), 'schema_violation', 'tool.status'],
    // wrong types are schema violations, not bad numbers
    ['tokens as a string', JSON.stringify(withField(llmCall, 'llm.input_tokens', '100')), 'schema_violation', 'llm.input_tokens'],
    ['tokens null', JSON.stringify(withField(llmCall, 'llm.input_tokens', null)), 'schema_violation', 'llm.input_tokens'],
    ['sensitive as "true"', JSON.stringify(withField(toolCall, 'tool.sensitive', 'true')), 'schema_violation', 'tool.sensitive'],
    ['judge score above 1', JSON.stringify(withField(judge, 'judge.score', 1.5)), 'schema_violation', 'judge.score'],
    // negative numbers
    ['negative ts', JSON.stringify({ ...runEnd, ts: -1 }), 'invalid_number', 'ts'],
    ['negative tokens', JSON.stringify(withField(llmCall, 'llm.input_tokens', -1)), 'invalid_number', 'llm.input_tokens'],
    ['negative cost', JSON.stringify(withField(llmCall, 'llm.cost_usd', -0.01)), 'invalid_number', 'llm.cost_usd'],
    ['negative latency', JSON.stringify(withField(llmCall, 'llm.latency_ms', -5)), 'invalid_number', 'llm.latency_ms'],
    ['negative duration', JSON.stringify(withField(toolCall, 'tool.duration_ms', -1)), 'invalid_number', 'tool.duration_ms'],
    ['negative limit', JSON.stringify(withField(runStart, 'limits.max_tokens', -1)), 'invalid_number', 'limits.max_tokens'],
    ['negative judge score', JSON.stringify(withField(judge, 'judge.score', -0.1)), 'invalid_number', 'judge.score'],
    // non-finite numbers (JSON.parse turns 1e999 into Infinity)
    ['1e999 tokens', withRaw(llmCall, 'llm.input_tokens', '1e999'), 'invalid_number', 'llm.input_tokens'],
    ['1e999 cost', withRaw(llmCall, 'llm.cost_usd', '1e999'), 'invalid_number', 'llm.cost_usd'],
    ['-1e999 latency', withRaw(llmCall, 'llm.latency_ms', '-1e999'), 'invalid_number', 'llm.latency_ms'],
    ['1e999 judge score', withRaw(judge, 'judge.score', '1e999'), 'invalid_number', 'judge.score'],
    ['1e999 ts', withRaw(runEnd, 'ts', '1e999'), 'invalid_number', 'ts: epoch ms must be a finite number'],
    // non-integer or inexact counts
    ['fractional tokens', JSON.stringify(withField(llmCall, 'llm.output_tokens', 1.5)), 'invalid_number', 'llm.output_tokens'],
    ['fractional ts', JSON.stringify({ ...runEnd, ts: 1.5 }), 'invalid_number', 'ts: epoch ms must be an integer'],
    ['tokens beyond 2^53', withRaw(llmCall, 'llm.input_tokens', '9007199254740993'), 'invalid_number', 'llm.input_tokens'],
    // bad timestamps
    ...[
      'yesterday',
      '2026-01-15',
      '2026-01-15T11:00:00',
      '2026-01-15 11:00:00Z',
      '2026-13-01T00:00:00Z',
      '2026-02-29T00:00:00Z',
      '2026-01-15T24:00:00Z',
      '2026-01-15T11:00:60Z',
      '2026-01-15T11:00Z',
      '2026-01-15T11:00:00+0530',
      '2026-01-15T11:00:00+05',
      '1969-12-31T23:59:59Z',
      '0000-01-01T00:00:00Z',
      '',
    ].map((ts): [string, string, DlqReason, string] => [`ts ${JSON.stringify(ts)}`, JSON.stringify({ ...runEnd, ts }), 'schema_violation', 'ts']),
    ['ts true', JSON.stringify({ ...runEnd, ts: true }), 'schema_violation', 'ts'],
    ['ts null', JSON.stringify({ ...runEnd, ts: null }), 'schema_violation', 'ts'],
    ['ts object', JSON.stringify({ ...runEnd, ts: { ms: 1 } }), 'schema_violation', 'ts'],
    // far-future timestamps
    ['ts 1 ms past the future limit', JSON.stringify({ ...runEnd, ts: NOW + DEFAULT_MAX_FUTURE_MS + 1 }), 'future_timestamp', 'ts'],
    ['ISO ts in 2099', JSON.stringify({ ...runEnd, ts: '2099-01-01T00:00:00+01:00' }), 'future_timestamp', 'ts 2098-12-31T23:00:00.000Z'],
    // beyond what a Date holds (8.64e15) but a safe integer: the message must not throw
    ['ts 2^53 - 1', JSON.stringify({ ...runEnd, ts: Number.MAX_SAFE_INTEGER }), 'future_timestamp', 'ts 9007199254740991 (epoch ms)'],
    // oversize (> 256 KiB), counted in UTF-8 bytes
    ['oversize string', JSON.stringify({ ...runEnd, pad: 'x'.repeat(MAX_MESSAGE_BYTES) }), 'oversize', `limit is ${MAX_MESSAGE_BYTES}`],
    ['oversize bytes', new Uint8Array(MAX_MESSAGE_BYTES + 1).fill(0x20), 'oversize', `${MAX_MESSAGE_BYTES + 1} bytes`],
    ['oversize in bytes, not characters', JSON.stringify({ ...runEnd, pad: 'é'.repeat(MAX_MESSAGE_BYTES / 2) }), 'oversize', 'bytes'],
    // invalid UTF-8
    ['a lone 0xff', Uint8Array.of(0x7b, 0xff, 0x7d), 'invalid_utf8', 'UTF-8'],
    ['overlong "/"', bytesWith(runEnd, 'user_id', [0xc0, 0xaf]), 'invalid_utf8', 'UTF-8'],
    ['truncated sequence', bytesWith(runEnd, 'user_id', [0xe3, 0x81]), 'invalid_utf8', 'UTF-8'],
    ['encoded surrogate', bytesWith(runEnd, 'user_id', [0xed, 0xa0, 0x80]), 'invalid_utf8', 'UTF-8'],
    ['Latin-1 text', bytesWith(runEnd, 'user_id', [0x4a, 0xfc, 0x72, 0x67]), 'invalid_utf8', 'UTF-8'],
  ];

  it.each(cases)('%s → %s', (_name, value, reason, mention) => {
    const decoded = reject(value);
    expect(decoded.reason).toBe(reason);
    expect(decoded.message).toContain(mention);
    if (decoded.issues) {
      // Every issue names where it is, and the message repeats it.
      for (const issue of decoded.issues) expect(decoded.message).toContain(`${issue.path || '(root)'}: ${issue.message}`);
    }
  });

  it('schema violations carry their issues with paths', () => {
    const decoded = reject(JSON.stringify({ ...runEnd, event_id: 'x'.repeat(65), status: 'fine' }));
    expect(decoded.issues?.map((i) => i.path).sort()).toEqual(['event_id', 'status']);
    expect(decoded.message).toContain('event_id: must be at most 64 characters');
  });

  it('honours maxBytes and maxFutureMs', () => {
    const text = JSON.stringify(runEnd);
    expect(reject(text, { nowMs: NOW, maxBytes: text.length - 1 }).reason).toBe('oversize');
    expect(decodeSpan(text, { nowMs: NOW, maxBytes: text.length }).ok).toBe(true);
    const ahead = JSON.stringify({ ...runEnd, ts: NOW + 1_001 });
    expect(reject(ahead, { nowMs: NOW, maxFutureMs: 1_000 }).reason).toBe('future_timestamp');
    expect(decodeSpan(ahead, { nowMs: NOW, maxFutureMs: 2_000 }).ok).toBe(true);
  });

  it('a message of exactly 256 KiB is accepted', () => {
    const text = JSON.stringify(runEnd);
    const padded = text + ' '.repeat(MAX_MESSAGE_BYTES - text.length);
    expect(Buffer.byteLength(padded)).toBe(MAX_MESSAGE_BYTES);
    expect(decodeSpan(padded, opts).ok).toBe(true);
  });

  it('keeps the unknown-version message short whatever the producer sent', () => {
    const decoded = reject(JSON.stringify({ ...runEnd, schema: 'v'.repeat(100_000) }));
    expect(decoded.message.length).toBeLessThan(200);
  });
});

/** The UTF-8 bytes of `event` with raw `bytes` spliced into the string field `field`. */
function bytesWith(event: Json, field: string, bytes: number[]): Uint8Array {
  const [before, after] = JSON.stringify({ ...event, [field]: '@@' }).split('@@') as [string, string];
  const enc = new TextEncoder();
  return Uint8Array.from([...enc.encode(before), ...bytes, ...enc.encode(after)]);
}

describe('decodeSpan properties', () => {
  const nowMs = MAX_TS_MS;

  it('every valid event round-trips through JSON (string and bytes)', () => {
    fc.assert(
      fc.property(spanEventArb, (event) => {
        const text = JSON.stringify(event);
        expect(decodeSpan(text, { nowMs })).toEqual({ ok: true, event });
        expect(decodeSpan(new TextEncoder().encode(text), { nowMs })).toEqual({ ok: true, event });
      }),
      { numRuns: 300 },
    );
  });

  it('an ISO-8601 ts in any offset normalises to the same epoch ms', () => {
    fc.assert(
      fc.property(spanEventArb, offsetArb, (event, offset) => {
        const wire = { ...event, ts: isoWithOffset(event.ts, offset) };
        expect(decodeSpan(JSON.stringify(wire), { nowMs })).toEqual({ ok: true, event });
      }),
      { numRuns: 300 },
    );
  });

  it('never throws, and always answers ok or a known DLQ reason', () => {
    const anyMessage = fc.oneof(
      fc.jsonValue().map((v) => JSON.stringify(v)),
      fc.string(),
      fc.uint8Array({ maxLength: 256 }),
      // Valid events with one field replaced by anything.
      fc.tuple(spanEventArb, fc.constantFrom(...Object.keys(llmCall)), fc.jsonValue()).map(([event, key, value]) =>
        JSON.stringify({ ...event, [key]: value }),
      ),
    );
    fc.assert(
      fc.property(anyMessage, (value) => {
        const decoded = decodeSpan(value, { nowMs });
        if (!decoded.ok) {
          expect(DLQ_REASONS).toContain(decoded.reason);
          expect(decoded.message.length).toBeGreaterThan(0);
        }
      }),
      { numRuns: 500 },
    );
  });

  it('a negative or non-finite number in any numeric field is an invalid_number', () => {
    const numericPaths: Array<[Json, string]> = [
      [runEnd, 'ts'],
      [llmCall, 'llm.input_tokens'],
      [llmCall, 'llm.output_tokens'],
      [llmCall, 'llm.cached_tokens'],
      [llmCall, 'llm.cost_usd'],
      [llmCall, 'llm.latency_ms'],
      [toolCall, 'tool.duration_ms'],
      [runStart, 'limits.max_llm_calls'],
      [runStart, 'limits.max_tool_calls'],
      [runStart, 'limits.max_tokens'],
      [runStart, 'limits.max_cost_usd'],
      [judge, 'judge.score'],
    ];
    const badLiteral = fc.oneof(
      fc.constantFrom('1e999', '-1e999'),
      fc.double({ max: -Number.MIN_VALUE, noNaN: true, noDefaultInfinity: true }).map((n) => JSON.stringify(n)),
      fc.integer({ max: -1 }).map(String),
    );
    fc.assert(
      fc.property(fc.constantFrom(...numericPaths), badLiteral, ([event, path], literal) => {
        const decoded = reject(withRaw(event, path, literal), { nowMs });
        expect(decoded.reason).toBe('invalid_number');
        expect(decoded.message).toContain(`${path}:`);
      }),
    );
  });
});

describe('lone UTF-16 surrogates (valid JSON, not Unicode text)', () => {
  const base = { schema: 'runwarden.span/v1', event_id: 'e1', ts: 1_700_000_000_000, run_id: 'r1', span_id: 's1', kind: 'run_end', agent_id: 'a', tenant_id: 't', user_id: 'u', status: 'ok' };
  it.each([
    ['a lone high surrogate in a value', JSON.stringify({ ...base, user_id: 'x' }).replace('"x"', '"\\ud800"'), 'user_id'],
    ['a lone low surrogate in an attr', JSON.stringify({ ...base, attrs: { env: 'x' } }).replace('"x"', '"a\\udc00"'), 'attrs.env'],
    ['a raw lone surrogate in a string input', JSON.stringify({ ...base, run_id: 'r\ud800' }), 'run_id'],
  ])('%s goes to the DLQ as invalid_utf8, naming the field', (_name, text, path) => {
    const decoded = decodeSpan(text, { nowMs: 1_700_000_000_000 });
    expect(decoded.ok).toBe(false);
    if (!decoded.ok) {
      expect(decoded.reason).toBe('invalid_utf8');
      expect(decoded.message).toContain(path);
    }
  });
  it('a proper surrogate pair (emoji) is fine, escaped or raw', () => {
    expect(decodeSpan(JSON.stringify({ ...base, user_id: '😀' }), { nowMs: 1_700_000_000_000 }).ok).toBe(true);
    expect(decodeSpan(JSON.stringify({ ...base, user_id: 'x' }).replace('"x"', '"\\ud83d\\ude00"'), { nowMs: 1_700_000_000_000 }).ok).toBe(true);
  });
});
