import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { controlCommandSchema, type ControlCommand } from '../../../src/contracts/control.ts';
import { findingSchema, type Finding } from '../../../src/contracts/finding.ts';
import { spanEventSchema, type SpanEvent } from '../../../src/contracts/span.ts';
import { commandToRow, DLQ_MAX_VALUE_BYTES, dlqToRow, findingToRow, spanToRow, type DlqRecord, type SpanRow, type SpanRowMeta } from '../../../src/store/rows.ts';
import { spanEventArb } from '../contracts/arbitraries.ts';

const TS = Date.UTC(2026, 0, 15, 10, 0, 0);
const META: SpanRowMeta = { partition: 3, offset: 1234, ingestedAtMs: TS + 500 };

/** A validated event: the mappers only ever see what the decoder accepted. */
const span = (fields: Record<string, unknown>): SpanEvent =>
  spanEventSchema.parse({
    schema: 'runwarden.span/v1',
    event_id: 'e1',
    ts: TS,
    run_id: 'r1',
    span_id: 's1',
    agent_id: 'support-bot',
    tenant_id: 'acme',
    user_id: 'u1',
    ...fields,
  });

/** What spanToRow gives an event with no kind-specific payload: the column defaults. */
const DEFAULTS: Omit<SpanRow, 'kind'> = {
  event_id: 'e1',
  ts_ms: TS,
  run_id: 'r1',
  span_id: 's1',
  parent_span_id: '',
  agent_id: 'support-bot',
  tenant_id: 'acme',
  user_id: 'u1',
  attr_keys: [],
  attr_values: [],
  model_version: '',
  prompt_hash: '',
  model: '',
  input_tokens: 0,
  output_tokens: 0,
  cached_tokens: 0,
  cost_usd: 0,
  cost_priced: 0,
  latency_ms: 0,
  tool_name: '',
  args_hash: '',
  tool_status: '',
  tool_duration_ms: 0,
  error_type: '',
  tool_sensitive: 0,
  judge_score: null,
  rubric: '',
  judge_model: '',
  run_status: '',
  limit_max_llm_calls: null,
  limit_max_tool_calls: null,
  limit_max_tokens: null,
  limit_max_cost_usd: null,
  kafka_partition: 3,
  kafka_offset: 1234,
  ingested_at_ms: TS + 500,
};

/** The insertable columns of `spans` (sql/migrations/001_spans.sql minus the MATERIALIZED ones). */
const SPAN_COLUMNS = [...Object.keys(DEFAULTS), 'kind'].sort();

describe('spanToRow', () => {
  it.each<[string, Record<string, unknown>, Partial<SpanRow>]>([
    ['run_start without limits', { kind: 'run_start' }, {}],
    [
      'run_start with every limit',
      { kind: 'run_start', limits: { max_llm_calls: 30, max_tool_calls: 100, max_tokens: 200_000, max_cost_usd: 5 } },
      { limit_max_llm_calls: 30, limit_max_tool_calls: 100, limit_max_tokens: 200_000, limit_max_cost_usd: 5 },
    ],
    [
      'run_start with some limits: the others stay NULL, not 0 (0 would be a cap)',
      { kind: 'run_start', limits: { max_tokens: 0 } },
      { limit_max_tokens: 0 },
    ],
    [
      'llm_call, every field',
      { kind: 'llm_call', llm: { model: 'gpt-a', input_tokens: 100, output_tokens: 20, cached_tokens: 7, cost_usd: 0.0125, latency_ms: 850.5 } },
      { model: 'gpt-a', input_tokens: 100, output_tokens: 20, cached_tokens: 7, cost_usd: 0.0125, latency_ms: 850.5 },
    ],
    [
      'llm_call, required fields only',
      { kind: 'llm_call', llm: { model: 'gpt-a', input_tokens: 1, output_tokens: 2 } },
      { model: 'gpt-a', input_tokens: 1, output_tokens: 2 },
    ],
    [
      'tool_call, every field',
      { kind: 'tool_call', tool: { name: 'search', args_hash: 'h1', status: 'error', duration_ms: 12.5, error_type: 'HTTP 500', sensitive: true } },
      { tool_name: 'search', args_hash: 'h1', tool_status: 'error', tool_duration_ms: 12.5, error_type: 'HTTP 500', tool_sensitive: 1 },
    ],
    [
      'tool_call, required fields only',
      { kind: 'tool_call', tool: { name: 'search', status: 'ok' } },
      { tool_name: 'search', tool_status: 'ok' },
    ],
    ['tool_call, sensitive false', { kind: 'tool_call', tool: { name: 'x', status: 'blocked', sensitive: false } }, { tool_name: 'x', tool_status: 'blocked' }],
    [
      'judge_score, every field',
      { kind: 'judge_score', judge: { score: 0.75, rubric: 'helpful', judge_model: 'judge-1' } },
      { judge_score: 0.75, rubric: 'helpful', judge_model: 'judge-1' },
    ],
    ['judge_score of 0 stays 0, not NULL', { kind: 'judge_score', judge: { score: 0 } }, { judge_score: 0 }],
    ['run_end', { kind: 'run_end', status: 'aborted' }, { run_status: 'aborted' }],
    [
      'side_effect with a tool',
      { kind: 'side_effect', tool: { name: 'send_email', status: 'ok', sensitive: true } },
      { tool_name: 'send_email', tool_status: 'ok', tool_sensitive: 1 },
    ],
    ['side_effect without a tool', { kind: 'side_effect' }, {}],
    ['a parent span', { kind: 'run_end', status: 'ok', parent_span_id: 'root' }, { run_status: 'ok', parent_span_id: 'root' }],
  ])('%s', (_name, fields, expected) => {
    const kind = fields['kind'] as string;
    expect(spanToRow(span(fields), META)).toEqual({ ...DEFAULTS, kind, ...expected });
  });

  it('sorts attrs by key into parallel arrays and copies the cohort attributes out', () => {
    const row = spanToRow(
      span({ kind: 'run_start', attrs: { region: 'eu', model_version: 'v2', env: 'prod', prompt_hash: 'p9', Zeta: 'upper first' } }),
      META,
    );
    expect(row.attr_keys).toEqual(['Zeta', 'env', 'model_version', 'prompt_hash', 'region']);
    expect(row.attr_values).toEqual(['upper first', 'prod', 'v2', 'p9', 'eu']);
    expect(row.model_version).toBe('v2');
    expect(row.prompt_hash).toBe('p9');
  });

  it('gives the same row whatever order the producer wrote the attrs in', () => {
    const a = spanToRow(span({ kind: 'run_start', attrs: { b: '2', a: '1', c: '3' } }), META);
    const b = spanToRow(span({ kind: 'run_start', attrs: { c: '3', a: '1', b: '2' } }), META);
    expect(a).toEqual(b);
    expect(JSON.stringify(a)).toBe(JSON.stringify(b));
  });

  describe('cost: reported by the event, else priced from the price table', () => {
    const llm = (cost_usd?: number) =>
      span({ kind: 'llm_call', llm: { model: 'gpt-a', input_tokens: 10, output_tokens: 5, ...(cost_usd !== undefined ? { cost_usd } : {}) } });

    it.each<[string, SpanEvent, number | undefined, number, number]>([
      ['reported, no price', llm(0.02), undefined, 0.02, 0],
      ['reported wins over the price table', llm(0.02), 0.5, 0.02, 0],
      ['reported 0 still wins (free model)', llm(0), 0.5, 0, 0],
      ['absent, priced', llm(), 0.003, 0.003, 1],
      ['absent, priced at 0', llm(), 0, 0, 1],
      ['absent, no price: 0, not marked priced', llm(), undefined, 0, 0],
      ['not an LLM call: a price is ignored', span({ kind: 'tool_call', tool: { name: 't', status: 'ok' } }), 0.5, 0, 0],
    ])('%s', (_name, event, pricedCostUsd, cost, priced) => {
      const meta = pricedCostUsd === undefined ? META : { ...META, pricedCostUsd };
      const row = spanToRow(event, meta);
      expect(row.cost_usd).toBe(cost);
      expect(row.cost_priced).toBe(priced);
    });
  });

  it('property: every event maps to the same columns, attrs sorted and aligned, identity fields copied', () => {
    fc.assert(
      fc.property(spanEventArb, fc.option(fc.double({ min: 0, max: 100, noNaN: true }), { nil: undefined }), (event, priced) => {
        const row = spanToRow(event, priced === undefined ? META : { ...META, pricedCostUsd: priced });
        expect(Object.keys(row).sort()).toEqual(SPAN_COLUMNS);
        expect([row.event_id, row.ts_ms, row.run_id, row.span_id, row.kind]).toEqual([event.event_id, event.ts, event.run_id, event.span_id, event.kind]);
        const attrs = event.attrs ?? {};
        expect(row.attr_keys).toEqual(Object.keys(attrs).sort());
        expect(Object.fromEntries(row.attr_keys.map((k, i) => [k, row.attr_values[i]]))).toEqual({ ...attrs });
        expect(row.cost_usd).toBeGreaterThanOrEqual(0);
        expect(Number.isFinite(row.cost_usd)).toBe(true);
        expect(row.cost_priced === 1).toBe(event.kind === 'llm_call' && event.llm.cost_usd === undefined && priced !== undefined);
        // Nothing undefined reaches JSONEachRow: every column has a value or an explicit NULL.
        expect(Object.values(row).every((v) => v !== undefined)).toBe(true);
      }),
      { numRuns: 200 },
    );
  });
});

describe('findingToRow', () => {
  const finding = (fields: Record<string, unknown> = {}): Finding =>
    findingSchema.parse({
      schema: 'runwarden.finding/v1',
      finding_id: 'f1',
      ts: TS,
      detector: 'judge-drift',
      rule: 'abrupt-drop',
      severity: 'warning',
      scope: { kind: 'cohort', id: 'support-bot|v2|free' },
      observed: 0.61,
      threshold: 0.7,
      ...fields,
    });

  it('maps a cohort finding with baseline and details', () => {
    const row = findingToRow(
      finding({ cohort: { plan_tier: 'free', agent_id: 'support-bot', model_version: 'v2' }, baseline: 0.82, details: { z: 1, a: { y: 2, b: [3] } } }),
    );
    expect(row).toEqual({
      finding_id: 'f1',
      ts_ms: TS,
      detector: 'judge-drift',
      rule: 'abrupt-drop',
      severity: 'warning',
      scope_kind: 'cohort',
      scope_id: 'support-bot|v2|free',
      cohort_keys: ['agent_id', 'model_version', 'plan_tier'],
      cohort_values: ['support-bot', 'v2', 'free'],
      observed: 0.61,
      threshold: 0.7,
      baseline: 0.82,
      details: '{"a":{"b":[3],"y":2},"z":1}',
    });
  });

  it('maps a run finding without cohort, baseline or details to empty arrays, NULL and {}', () => {
    const row = findingToRow(finding({ detector: 'step-cap', rule: 'llm_calls', scope: { kind: 'run', id: 'r1' }, observed: 30, threshold: 30 }));
    expect(row).toMatchObject({ cohort_keys: [], cohort_values: [], baseline: null, details: '{}', scope_kind: 'run', scope_id: 'r1' });
  });

  it('a baseline of 0 stays 0', () => {
    expect(findingToRow(finding({ baseline: 0 })).baseline).toBe(0);
  });

  it('a replayed finding writes byte-identical details whatever the key order', () => {
    const a = findingToRow(finding({ details: { b: 1, a: { d: 1, c: 2 } } }));
    const b = findingToRow(finding({ details: { a: { c: 2, d: 1 }, b: 1 } }));
    expect(a.details).toBe(b.details);
  });
});

describe('commandToRow', () => {
  const command = (fields: Record<string, unknown> = {}): ControlCommand =>
    controlCommandSchema.parse({
      schema: 'runwarden.control/v1',
      command_id: 'c1',
      issued_at: TS,
      action: 'throttle',
      scope: { kind: 'user', id: 'u1' },
      reason: { detector: 'cost-spike', rule: 'spend-per-minute', observed: 4.2, threshold: 1.5, finding_id: 'f1' },
      signature: 'a'.repeat(64),
      ...fields,
    });

  it('maps every field of a throttle', () => {
    const row = commandToRow(
      command({
        reason: { detector: 'cost-spike', rule: 'spend-per-minute', observed: 4.2, threshold: 1.5, baseline: 0.3, finding_id: 'f1', note: 'spike' },
        expires_at: TS + 600_000,
        throttle: { max_concurrent_runs: 2, max_llm_calls_per_minute: 10, delay_ms: 250 },
        key_id: 'k2026',
      }),
      { source: 'pipeline' },
    );
    expect(row).toEqual({
      command_id: 'c1',
      issued_at_ms: TS,
      action: 'throttle',
      scope_kind: 'user',
      scope_id: 'u1',
      reason_detector: 'cost-spike',
      reason_rule: 'spend-per-minute',
      reason_observed: 4.2,
      reason_threshold: 1.5,
      reason_baseline: 0.3,
      reason_finding_id: 'f1',
      reason_note: 'spike',
      expires_at_ms: TS + 600_000,
      throttle_max_concurrent_runs: 2,
      throttle_max_llm_calls_per_minute: 10,
      throttle_delay_ms: 250,
      key_id: 'k2026',
      signature: 'a'.repeat(64),
      source: 'pipeline',
      operator: '',
    });
  });

  it('maps an operator kill switch without throttle or expiry to NULLs and empty strings', () => {
    const row = commandToRow(
      command({ action: 'kill_switch', scope: { kind: 'global', id: '*' }, reason: { detector: 'operator', rule: 'kill-switch', observed: 0, threshold: 0, finding_id: '' } }),
      { source: 'operator', operator: 'alice' },
    );
    expect(row).toMatchObject({
      action: 'kill_switch',
      scope_kind: 'global',
      scope_id: '*',
      reason_baseline: null,
      reason_note: '',
      reason_finding_id: '',
      expires_at_ms: null,
      throttle_max_concurrent_runs: null,
      throttle_max_llm_calls_per_minute: null,
      throttle_delay_ms: null,
      key_id: '',
      source: 'operator',
      operator: 'alice',
    });
  });

  it('a throttle with only a delay leaves the other caps NULL', () => {
    const row = commandToRow(command({ throttle: { delay_ms: 0 } }), { source: 'scheduler' });
    expect([row.throttle_max_concurrent_runs, row.throttle_max_llm_calls_per_minute, row.throttle_delay_ms]).toEqual([null, null, 0]);
  });
});

describe('dlqToRow', () => {
  const record = (fields: Partial<DlqRecord> = {}): DlqRecord => ({
    tsMs: TS,
    reason: 'invalid_json',
    message: 'Unexpected token',
    topic: 'agent.spans',
    partition: 2,
    offset: '41',
    value: 'not json',
    ...fields,
  });
  const decode = (base64: string) => Buffer.from(base64, 'base64');

  it('maps a record, the Kafka offset string to a number', () => {
    expect(dlqToRow(record())).toEqual({
      ts_ms: TS,
      reason: 'invalid_json',
      message: 'Unexpected token',
      topic: 'agent.spans',
      kafka_partition: 2,
      kafka_offset: 41,
      value_bytes: 8,
      value_truncated: 0,
      value_base64: Buffer.from('not json').toString('base64'),
    });
  });

  it.each<[string, DlqRecord['value'], Buffer]>([
    ['a null value (tombstone)', null, Buffer.alloc(0)],
    ['an empty string', '', Buffer.alloc(0)],
    ['a string, as UTF-8 bytes', 'héllo 😀', Buffer.from('héllo 😀', 'utf8')],
    ['bytes that are not UTF-8', new Uint8Array([0xff, 0xfe, 0x00, 0xc3, 0x28, 0x80]), Buffer.from([0xff, 0xfe, 0x00, 0xc3, 0x28, 0x80])],
    ['a Buffer', Buffer.from([1, 2, 3]), Buffer.from([1, 2, 3])],
  ])('keeps %s byte for byte in base64', (_name, value, bytes) => {
    const row = dlqToRow(record({ value }));
    expect(decode(row.value_base64).equals(bytes)).toBe(true);
    expect(row.value_bytes).toBe(bytes.byteLength);
    expect(row.value_truncated).toBe(0);
  });

  it('keeps a value of exactly the limit whole', () => {
    const row = dlqToRow(record({ value: new Uint8Array(DLQ_MAX_VALUE_BYTES).fill(7) }));
    expect(row.value_truncated).toBe(0);
    expect(decode(row.value_base64).byteLength).toBe(DLQ_MAX_VALUE_BYTES);
  });

  it('truncates a value past the limit, keeping the first bytes and the real size', () => {
    const value = new Uint8Array(DLQ_MAX_VALUE_BYTES + 10);
    for (let i = 0; i < value.length; i++) value[i] = i % 251;
    const row = dlqToRow(record({ value }));
    expect(row.value_truncated).toBe(1);
    expect(row.value_bytes).toBe(DLQ_MAX_VALUE_BYTES + 10);
    const kept = decode(row.value_base64);
    expect(kept.byteLength).toBe(DLQ_MAX_VALUE_BYTES);
    expect(kept.equals(Buffer.from(value.subarray(0, DLQ_MAX_VALUE_BYTES)))).toBe(true);
  });

  it('caps the error message at 2,000 characters', () => {
    expect(dlqToRow(record({ message: 'x'.repeat(5_000) })).message).toBe('x'.repeat(2_000));
  });

  it('never cuts the message through a surrogate pair (half of one is not UTF-8; ClickHouse refuses the row)', () => {
    expect(dlqToRow(record({ message: `${'x'.repeat(1_999)}😀 and more` })).message).toBe('x'.repeat(1_999));
    expect(dlqToRow(record({ message: `${'x'.repeat(1_998)}😀 and more` })).message).toBe(`${'x'.repeat(1_998)}😀`);
  });

  it.each<[string, string | number]>([
    ['number', 7],
    ['zero', '0'],
    ['largest safe', String(Number.MAX_SAFE_INTEGER)],
  ])('accepts offset %s', (_name, offset) => {
    expect(dlqToRow(record({ offset })).kafka_offset).toBe(Number(offset));
  });

  it.each<[string, string | number]>([
    ['negative', '-1'],
    ['not a number', 'abc'],
    ['fractional', 1.5],
    ['beyond 2^53 (would round)', '9007199254740993'],
  ])('refuses offset %s', (_name, offset) => {
    expect(() => dlqToRow(record({ offset }))).toThrow(RangeError);
  });

  it('property: base64 always decodes to the first ≤ DLQ_MAX_VALUE_BYTES of the original bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 512 }), (value) => {
        const row = dlqToRow(record({ value }));
        return decode(row.value_base64).equals(Buffer.from(value)) && row.value_bytes === value.length && row.value_truncated === 0;
      }),
    );
  });
});
