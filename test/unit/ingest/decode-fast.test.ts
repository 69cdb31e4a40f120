import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SPAN_SCHEMA_VERSION, spanEventSchema } from '../../../src/contracts/span.ts';
import { decodeSpan, decodeSpanBySchema, fastSpanEvent } from '../../../src/ingest/decode.ts';
import { createFleetStream } from '../../../bench/lib/fleet-stream.ts';
import { MAX_TS_MS, spanEventArb } from '../contracts/arbitraries.ts';

// decodeSpan takes a hand-written fast path for the common well-formed event and the zod schema
// for everything else. These properties hold it to the schema: the same answer (accepted event,
// key order included, or the same rejection) for valid events, mutated ones and arbitrary JSON.

const opts = { nowMs: MAX_TS_MS };
type Json = Record<string, unknown>;

/** The same answer, byte for byte (JSON keeps key order and tells -0 from nothing else that matters). */
function expectSameAnswer(value: string | Uint8Array): void {
  const fast = decodeSpan(value, opts);
  const slow = decodeSpanBySchema(value, opts);
  expect(fast).toEqual(slow);
  expect(JSON.stringify(fast)).toBe(JSON.stringify(slow));
  if (fast.ok && slow.ok) expect(Object.keys(fast.event)).toEqual(Object.keys(slow.event));
}

/** When the fast path accepts an object, the schema accepts it too and yields the same event. */
function expectFastAgreesWithSchema(json: Json): void {
  const quick = fastSpanEvent(json);
  if (quick === undefined) return;
  const parsed = spanEventSchema.safeParse(json);
  expect(parsed.success).toBe(true);
  expect(JSON.stringify(quick)).toBe(JSON.stringify(parsed.data));
  expect(quick).toEqual(parsed.data);
}

const FIELD_PATHS = [
  'event_id', 'ts', 'run_id', 'span_id', 'parent_span_id', 'agent_id', 'tenant_id', 'user_id', 'attrs', 'kind', 'extra',
  'attrs.model_version', 'attrs.x', 'attrs.', 'limits', 'limits.max_llm_calls', 'limits.max_tool_calls', 'limits.max_tokens', 'limits.max_cost_usd',
  'llm', 'llm.model', 'llm.input_tokens', 'llm.output_tokens', 'llm.cached_tokens', 'llm.cost_usd', 'llm.latency_ms', 'llm.extra',
  'tool', 'tool.name', 'tool.args_hash', 'tool.status', 'tool.duration_ms', 'tool.error_type', 'tool.sensitive', 'tool.extra',
  'judge', 'judge.score', 'judge.rubric', 'judge.judge_model', 'status',
];

const lengths = [0, 1, 63, 64, 65, 127, 128, 129, 255, 256, 257];
const edgeValue: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom(undefined, null, true, false, 0, -0, 1, -1, 0.5, 1.5, 2 ** 53 - 1, 2 ** 53, 1e21, 1e308, -1e-300, Number.MIN_VALUE),
  fc.constantFrom(...lengths).map((n) => 'x'.repeat(n)),
  fc.constantFrom('ok', 'error', 'timeout', 'blocked', 'aborted', 'refused', 'OK', ''),
  fc.constantFrom('run_start', 'llm_call', 'tool_call', 'judge_score', 'run_end', 'side_effect', 'other'),
  fc.constantFrom('2026-01-15T12:00:00Z', '2026-01-15T12:00:00+05:30', '2026-01-15T12:00:00', '1969-12-31T23:59:59Z', '123'),
  fc.constantFrom([], [1], {}, { a: 'b' }, { model: 'm', input_tokens: 1, output_tokens: 2 }, { name: 't', status: 'ok' }, { score: 0.5 }),
  fc.integer({ min: -10, max: MAX_TS_MS }),
  fc.double({ noNaN: true }),
  fc.jsonValue({ maxDepth: 2 }),
);

/** A copy of `event` with `path` set to `value` (removed when undefined). */
function withField(event: Json, path: string, value: unknown): Json {
  const copy = structuredClone(event);
  const keys = path.split('.');
  const last = keys.pop() as string;
  let node: Json = copy;
  for (const k of keys) {
    const next = node[k];
    if (next === null || typeof next !== 'object' || Array.isArray(next)) node[k] = {};
    node = node[k] as Json;
  }
  if (value === undefined) delete node[last];
  else node[last] = value;
  return copy;
}

const mutatedEvent = fc
  .tuple(spanEventArb, fc.array(fc.tuple(fc.constantFrom(...FIELD_PATHS), edgeValue), { minLength: 1, maxLength: 3 }))
  .map(([event, edits]) => edits.reduce((e, [path, value]) => withField(e, path, value), event as unknown as Json));

describe('decodeSpan fast path vs the schema', () => {
  it('valid events: the fast path takes them, and yields exactly what the schema yields', () => {
    fc.assert(
      fc.property(spanEventArb, (event) => {
        const json = JSON.parse(JSON.stringify(event)) as Json;
        // Keys in the schema's order (as emitters write them): the parsed object is the output.
        expect(fastSpanEvent(json)).toBe(json);
        expectFastAgreesWithSchema(json);
        expectSameAnswer(JSON.stringify(event));
        // Unknown properties are dropped, in any position: the output is built.
        const extra = { extra: 1, ...event, zz: { a: 1 } };
        expect(fastSpanEvent(extra)).not.toBe(extra);
        expectFastAgreesWithSchema(extra);
        expectSameAnswer(JSON.stringify(extra));
        // Keys out of order (reversed): the output is built, in the schema's order.
        const reversed = Object.fromEntries(Object.entries(json).reverse());
        expectFastAgreesWithSchema(reversed);
        expectSameAnswer(JSON.stringify(reversed));
      }),
      { numRuns: 1_000 },
    );
  }, 120_000);

  it('the bench fleet and the simulator: every event takes the fast path', () => {
    const stream = createFleetStream({ prefix: 'bench_0123456789-f10000', seed: 10_000, runawayShare: 0.05 });
    for (let i = 0; i < 20_000; i++) {
      const { value } = stream.next(1_700_000_000_000 + i);
      const json = JSON.parse(value) as Json;
      expect(fastSpanEvent(json)).toBeDefined();
      if (i % 10 === 0) expectSameAnswer(value);
    }
  }, 120_000);

  it('mutated events (edge values at every field): the same acceptance, event or rejection', () => {
    fc.assert(
      fc.property(mutatedEvent, (json) => {
        expectFastAgreesWithSchema(json);
        expectSameAnswer(JSON.stringify(json));
      }),
      { numRuns: 3_000 },
    );
  }, 120_000);

  it('raw literals JSON.stringify cannot make (1e999, -0, __proto__ keys) and attribute counts around 64', () => {
    const literals = fc.constantFrom('1e999', '-1e999', '-0', '-0.0', '1.0', '1e2', '0.5e1', '9007199254740993', '"__proto__"');
    fc.assert(
      fc.property(spanEventArb, fc.constantFrom(...FIELD_PATHS), literals, (event, path, literal) => {
        const marker = '__RAW__';
        const text = JSON.stringify(withField(event as unknown as Json, path, marker)).replace(`"${marker}"`, literal);
        expectSameAnswer(text);
        expectFastAgreesWithSchema(JSON.parse(text) as Json);
      }),
      { numRuns: 2_000 },
    );
    fc.assert(
      fc.property(spanEventArb, fc.integer({ min: 60, max: 70 }), fc.boolean(), (event, n, proto) => {
        const attrs = Object.fromEntries(Array.from({ length: n }, (_, i) => [`k${i}`, 'v']));
        let text = JSON.stringify({ ...event, attrs });
        if (proto) text = text.replace('"k0":', '"__proto__":');
        expectSameAnswer(text);
        expectFastAgreesWithSchema(JSON.parse(text) as Json);
      }),
      { numRuns: 300 },
    );
  }, 120_000);

  it('arbitrary JSON objects carrying the schema version', () => {
    fc.assert(
      fc.property(fc.dictionary(fc.constantFrom(...FIELD_PATHS.filter((p) => !p.includes('.')), 'x'), fc.jsonValue({ maxDepth: 2 })), (obj) => {
        const json = { ...obj, schema: SPAN_SCHEMA_VERSION };
        expectFastAgreesWithSchema(json);
        expectSameAnswer(JSON.stringify(json));
      }),
      { numRuns: 3_000 },
    );
  }, 120_000);
});
