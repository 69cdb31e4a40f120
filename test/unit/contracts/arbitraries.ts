import fc from 'fast-check';
import { RUN_STATUSES, SPAN_SCHEMA_VERSION, TOOL_STATUSES, type SpanEvent } from '../../../src/contracts/span.ts';

/** Latest event time generated (2100-01-01, epoch ms): a `nowMs` at or after it accepts every event. */
export const MAX_TS_MS = Date.UTC(2100, 0, 1);

/**
 * A string of 1..max UTF-16 code units (zod counts `.length`): mostly ASCII, sometimes any Unicode
 * scalar (astral characters take two units, so those strings are at most max/2 code points).
 */
export const boundedString = (max: number, min = 1): fc.Arbitrary<string> =>
  fc.oneof(
    fc.string({ unit: 'grapheme-ascii', minLength: min, maxLength: max }),
    fc.string({ unit: 'binary', minLength: min, maxLength: Math.floor(max / 2) }),
  );

export const countArb = fc.oneof(fc.nat({ max: 1_000_000 }), fc.maxSafeNat());
export const amountArb = fc.double({ min: 0, max: 1e9, noNaN: true, noDefaultInfinity: true });

// `__proto__` is left out: zod's record drops that key rather than copying it (no pollution, but
// the value does not round-trip).
const attrKey = fc
  .oneof(fc.constantFrom('model_version', 'prompt_hash', 'tool_defs_hash', 'plan_tier', 'region', 'env'), boundedString(128))
  .filter((k) => k !== '__proto__');
export const attrsArb = fc.dictionary(attrKey, boundedString(256, 0), { maxKeys: 8 });

const toolArb = fc.record(
  {
    name: boundedString(128),
    args_hash: fc.string({ unit: 'grapheme-ascii', maxLength: 128 }),
    status: fc.constantFrom(...TOOL_STATUSES),
    duration_ms: amountArb,
    error_type: fc.string({ maxLength: 128 }),
    sensitive: fc.boolean(),
  },
  { requiredKeys: ['name', 'status'] },
);

const baseArb = fc.record(
  {
    schema: fc.constant(SPAN_SCHEMA_VERSION),
    event_id: boundedString(64),
    ts: fc.integer({ min: 0, max: MAX_TS_MS }),
    run_id: boundedString(128),
    span_id: boundedString(64),
    parent_span_id: boundedString(64),
    agent_id: boundedString(128),
    tenant_id: boundedString(128),
    user_id: boundedString(128),
    attrs: attrsArb,
  },
  { requiredKeys: ['schema', 'event_id', 'ts', 'run_id', 'span_id', 'agent_id', 'tenant_id', 'user_id'] },
);

const payloadArb = fc.oneof(
  fc.record(
    {
      kind: fc.constant('run_start' as const),
      limits: fc.record(
        { max_llm_calls: countArb, max_tool_calls: countArb, max_tokens: countArb, max_cost_usd: amountArb },
        { requiredKeys: [] },
      ),
    },
    { requiredKeys: ['kind'] },
  ),
  fc.record({
    kind: fc.constant('llm_call' as const),
    llm: fc.record(
      {
        model: boundedString(128),
        input_tokens: countArb,
        output_tokens: countArb,
        cached_tokens: countArb,
        cost_usd: amountArb,
        latency_ms: amountArb,
      },
      { requiredKeys: ['model', 'input_tokens', 'output_tokens'] },
    ),
  }),
  fc.record({ kind: fc.constant('tool_call' as const), tool: toolArb }),
  fc.record({
    kind: fc.constant('judge_score' as const),
    judge: fc.record(
      {
        score: fc.double({ min: 0, max: 1, noNaN: true }),
        rubric: fc.string({ maxLength: 128 }),
        judge_model: fc.string({ maxLength: 128 }),
      },
      { requiredKeys: ['score'] },
    ),
  }),
  fc.record({ kind: fc.constant('run_end' as const), status: fc.constantFrom(...RUN_STATUSES) }),
  fc.record({ kind: fc.constant('side_effect' as const), tool: toolArb }, { requiredKeys: ['kind'] }),
);

/** Any valid span event, as decodeSpan returns it (ts in epoch ms), every kind and optional field. */
export const spanEventArb: fc.Arbitrary<SpanEvent> = fc
  .tuple(baseArb, payloadArb)
  .map(([base, payload]) => ({ ...base, ...payload }) as SpanEvent);

/** Renders epoch ms as ISO-8601 in the given UTC offset (minutes), e.g. `2024-03-10T17:30:00.000+05:30`. */
export function isoWithOffset(ms: number, offsetMinutes: number): string {
  const local = new Date(ms + offsetMinutes * 60_000).toISOString().slice(0, -1);
  if (offsetMinutes === 0) return `${local}Z`;
  const sign = offsetMinutes > 0 ? '+' : '-';
  const abs = Math.abs(offsetMinutes);
  const hh = String(Math.floor(abs / 60)).padStart(2, '0');
  const mm = String(abs % 60).padStart(2, '0');
  return `${local}${sign}${hh}:${mm}`;
}

/** UTC offsets in use, in minutes (−12:00 … +14:00, including the :30 and :45 ones). */
export const offsetArb = fc.oneof(
  fc.constantFrom(0, 60, -300, 330, 345, 570, -570, 840, -720),
  fc.integer({ min: -12 * 60, max: 14 * 60 }),
);
