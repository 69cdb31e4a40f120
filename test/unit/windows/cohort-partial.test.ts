import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SPAN_SCHEMA_VERSION, type SpanEvent } from '../../../src/contracts/span.ts';
import { cohortKey, cohortOf, MISSING_DIM, pickDims, withoutDims } from '../../../src/windows/cohort-key.ts';
import {
  cohortPartialSchema,
  emptyPartial,
  mergeInto,
  mergePartials,
  mergeTopRuns,
  MINUTE_MS,
  PartialMismatchError,
  partialOfEvent,
  partialStateKey,
  TOP_RUNS,
  type CohortPartial,
} from '../../../src/windows/cohort-partial.ts';
import { sketchCount, sketchOf } from '../../../src/windows/quantile-sketch.ts';
import { summaryOf } from '../../../src/windows/summary.ts';
import { parseCohortId } from '../../../src/sdk/scope-match.ts';
import { createPartialBuffer } from '../../../src/engine/partial-buffer.ts';

const T = 1_700_000_040_000;
const base = { schema: SPAN_SCHEMA_VERSION, event_id: 'e1', ts: T + 1500, run_id: 'r1', span_id: 's1', agent_id: 'bot', tenant_id: 't1', user_id: 'u1' } as const;
const COHORT = { agent_id: 'bot', model_version: 'v2' };

/** A random partial of COHORT in the minute of T (all numbers in exact ranges). */
const partialArb: fc.Arbitrary<CohortPartial> = fc
  .record({
    first: fc.integer({ min: 0, max: 30_000 }),
    len: fc.integer({ min: 0, max: 29_999 }),
    events: fc.integer({ min: 0, max: 1000 }),
    llm: fc.integer({ min: 0, max: 100 }),
    tokens: fc.integer({ min: 0, max: 1e6 }),
    cents: fc.integer({ min: 0, max: 10_000 }),
    scores: fc.array(fc.integer({ min: 0, max: 100 }), { maxLength: 10 }),
    runTokens: fc.array(fc.integer({ min: 0, max: 500_000 }), { maxLength: 5 }),
    top: fc.array(fc.record({ run_id: fc.constantFrom('a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j'), tokens: fc.integer({ min: 0, max: 1e5 }) }), { maxLength: 12 }),
  })
  .map((r) => {
    const minuteStart = T - (T % MINUTE_MS);
    const p = emptyPartial('judge', COHORT, minuteStart + r.first);
    p.last_ts = minuteStart + r.first + r.len;
    p.events = r.events;
    p.llm_calls = r.llm;
    p.tokens = r.tokens;
    // Binary fractions keep float sums exact, so equality below is exact.
    p.spend_usd = r.cents / 128;
    p.judge = summaryOf(r.scores.map((s) => s / 64));
    p.run_tokens = sketchOf(r.runTokens);
    p.top_runs = mergeTopRuns([], r.top);
    return p;
  });

describe('cohort partial', () => {
  it('one-event partials of each kind are valid and carry what they should', () => {
    const llm = partialOfEvent('spend', { agent_id: 'bot' }, { ...base, kind: 'llm_call', llm: { model: 'gpt-4o', input_tokens: 100, output_tokens: 20 } }, { costUsd: 0.25, runTokens: 120 });
    expect(llm).toMatchObject({ llm_calls: 1, tokens: 120, spend_usd: 0.25, minute: Math.floor(T / MINUTE_MS), top_runs: [{ run_id: 'r1', tokens: 120 }] });
    const judge = partialOfEvent('judge', COHORT, { ...base, kind: 'judge_score', judge: { score: 0.75 } });
    expect(judge.judge).toEqual({ n: 1, mean: 0.75, m2: 0 });
    const end = partialOfEvent('agent', { agent_id: 'bot' }, { ...base, kind: 'run_end', status: 'ok' }, { endedRunTokens: 5000 });
    expect(end.runs_ended).toBe(1);
    expect(sketchCount(end.run_tokens)).toBe(1);
    const start = partialOfEvent('user', { user_id: 'u1' }, { ...base, kind: 'run_start' });
    expect(start.runs_started).toBe(1);
    for (const p of [llm, judge, end, start]) expect(cohortPartialSchema.safeParse(JSON.parse(JSON.stringify(p))).success).toBe(true);
  });

  it('the llm cost falls back to the event cost, then 0', () => {
    const ev: SpanEvent = { ...base, kind: 'llm_call', llm: { model: 'x', input_tokens: 1, output_tokens: 1, cost_usd: 0.5 } };
    expect(partialOfEvent('spend', COHORT, ev).spend_usd).toBe(0.5);
  });

  it.each([
    { name: 'wrong schema', patch: { schema: 'runwarden.partial/v0' } },
    { name: 'unknown view', patch: { view: 'other' } },
    { name: 'negative spend', patch: { spend_usd: -1 } },
    { name: 'fractional count', patch: { llm_calls: 1.5 } },
    { name: 'last_ts outside the minute', patch: { last_ts: T + MINUTE_MS } },
    { name: 'first after last', patch: { first_ts: T + 2000, last_ts: T + 1000 } },
    { name: 'no dimensions', patch: { cohort: {} } },
    { name: 'too many top runs', patch: { top_runs: Array.from({ length: TOP_RUNS + 1 }, (_, i) => ({ run_id: `r${i}`, tokens: 1 })) } },
  ])('schema rejects $name', ({ patch }) => {
    expect(cohortPartialSchema.safeParse({ ...emptyPartial('spend', COHORT, T), ...patch }).success).toBe(false);
  });

  it('merge is commutative and associative, with the empty partial as identity', () => {
    fc.assert(
      fc.property(partialArb, partialArb, partialArb, (a, b, c) => {
        expect(mergePartials(a, b)).toEqual(mergePartials(b, a));
        const left = mergePartials(mergePartials(a, b), c);
        const right = mergePartials(a, mergePartials(b, c));
        expect({ ...left, judge: null }).toEqual({ ...right, judge: null });
        expect(left.judge.n).toBe(right.judge.n);
        expect(left.judge.mean).toBeCloseTo(right.judge.mean, 12);
        expect(left.judge.m2).toBeCloseTo(right.judge.m2, 9);
        expect(cohortPartialSchema.safeParse(left).success).toBe(true);
        const empty = { ...emptyPartial('judge', COHORT, a.first_ts), first_ts: a.first_ts, last_ts: a.first_ts };
        expect(mergePartials(a, empty)).toEqual(a);
      }),
    );
  });

  it('merging deltas one by one equals merging them in any grouping', () => {
    fc.assert(
      fc.property(fc.array(partialArb, { minLength: 1, maxLength: 8 }), fc.integer({ min: 0, max: 7 }), (ps, cut) => {
        const all = ps.reduce(mergePartials);
        const k = Math.min(cut, ps.length - 1) + 1;
        const grouped = ps.length > k ? mergePartials(ps.slice(0, k).reduce(mergePartials), ps.slice(k).reduce(mergePartials)) : all;
        expect(grouped.events).toBe(all.events);
        expect(grouped.spend_usd).toBe(all.spend_usd);
        expect(grouped.run_tokens).toEqual(all.run_tokens);
        expect(grouped.top_runs).toEqual(all.top_runs);
      }),
    );
  });

  it('refuses to merge different views, cohorts or minutes', () => {
    const a = emptyPartial('spend', COHORT, T);
    expect(() => mergePartials(a, emptyPartial('user', COHORT, T))).toThrow(PartialMismatchError);
    expect(() => mergePartials(a, emptyPartial('spend', { agent_id: 'other' }, T))).toThrow(PartialMismatchError);
    expect(() => mergePartials(a, emptyPartial('spend', COHORT, T + MINUTE_MS))).toThrow(PartialMismatchError);
    // Dimension order does not matter.
    expect(() => mergePartials(a, emptyPartial('spend', { model_version: 'v2', agent_id: 'bot' }, T))).not.toThrow();
  });

  it('top runs keep each run at its largest total, largest first, at most TOP_RUNS', () => {
    const merged = mergeTopRuns(
      [
        { run_id: 'a', tokens: 5 },
        { run_id: 'b', tokens: 9 },
      ],
      [
        { run_id: 'a', tokens: 7 },
        { run_id: 'c', tokens: 7 },
      ],
    );
    expect(merged).toEqual([
      { run_id: 'b', tokens: 9 },
      { run_id: 'a', tokens: 7 },
      { run_id: 'c', tokens: 7 },
    ]);
    const many = Array.from({ length: 20 }, (_, i) => ({ run_id: `r${i}`, tokens: i }));
    expect(mergeTopRuns(many, [])).toHaveLength(TOP_RUNS);
    expect(mergeTopRuns(many, [])[0]).toEqual({ run_id: 'r19', tokens: 19 });
  });
});

describe('cohort key', () => {
  it('is canonical (sorted) and parses back with the guard’s parser', () => {
    expect(cohortKey({ model_version: 'v2', agent_id: 'bot' })).toBe('agent_id=bot,model_version=v2');
    fc.assert(
      fc.property(fc.dictionary(fc.stringMatching(/^[a-z][a-z_]{0,11}$/), fc.stringMatching(/^[A-Za-z0-9._-]{0,12}$/), { minKeys: 1, maxKeys: 6 }), (dims) => {
        expect(parseCohortId(cohortKey(dims))).toEqual(dims);
      }),
    );
  });

  it('cohortOf reads ids, the llm model and attributes; missing ones are marked', () => {
    const ev: SpanEvent = { ...base, kind: 'llm_call', attrs: { plan_tier: 'free' }, llm: { model: 'gpt-4o', input_tokens: 1, output_tokens: 1 } };
    expect(cohortOf(ev, ['tenant_id', 'agent_id', 'user_id', 'model', 'plan_tier', 'region'])).toEqual({
      tenant_id: 't1',
      agent_id: 'bot',
      user_id: 'u1',
      model: 'gpt-4o',
      plan_tier: 'free',
      region: MISSING_DIM,
    });
    const judge: SpanEvent = { ...base, kind: 'judge_score', judge: { score: 1 } };
    expect(cohortOf(judge, ['model'])).toEqual({ model: MISSING_DIM });
  });

  it('withoutDims / pickDims', () => {
    const dims = { agent_id: 'bot', model_version: 'v2', prompt_hash: 'p', plan_tier: 'free' };
    expect(withoutDims(dims, ['model_version', 'prompt_hash'])).toEqual({ agent_id: 'bot', plan_tier: 'free' });
    expect(pickDims(dims, ['model_version', 'nope'])).toEqual({ model_version: 'v2' });
    expect(partialStateKey({ view: 'judge', cohort: dims })).toBe('judge|agent_id=bot,model_version=v2,plan_tier=free,prompt_hash=p');
  });

  it('mergeInto folds in place exactly as mergePartials does, and the buffer never changes what it was given', () => {
    fc.assert(
      fc.property(fc.array(partialArb, { minLength: 1, maxLength: 8 }), (parts) => {
        const before = structuredClone(parts);
        const reference = parts.reduce((acc, p) => mergePartials(acc, p));
        const target = structuredClone(parts[0] as CohortPartial);
        for (const p of parts.slice(1)) mergeInto(target, p);
        expect(target).toEqual(reference);
        const buffer = createPartialBuffer();
        for (const p of parts) buffer.add(p);
        expect(buffer.drain()).toEqual([reference]);
        expect(parts).toEqual(before);
      }),
    );
  });
});
