import { describe, expect, it } from 'vitest';
import { spanEventSchema, type SpanEvent } from '../../../src/contracts/span.ts';
import type { KeyRing } from '../../../src/control/sign.ts';
import { createPartialBuffer } from '../../../src/engine/partial-buffer.ts';
import { createPerRunStage } from '../../../src/engine/per-run-stage.ts';
import { DEFAULT_POLICY, parsePolicy } from '../../../src/policy/policy.ts';
import { priceLlmCall } from '../../../src/pricing/price-table.ts';
import { simulateFleet } from '../../../src/sim/fleet.ts';
import { cohortOf } from '../../../src/windows/cohort-key.ts';
import { cohortPartialSchema, MINUTE_MS, partialOfEvent, type CohortPartial } from '../../../src/windows/cohort-partial.ts';
import { sketchCount, sketchQuantile } from '../../../src/windows/quantile-sketch.ts';
import { eventMaker } from '../detectors/make-events.ts';

const keyRing: KeyRing = { activeKeyId: 'k1', keys: { k1: 'feed-test-secret-0123456789' } };
const T0 = 1_700_000_000_000 - (1_700_000_000_000 % MINUTE_MS);

const stage = (policy = DEFAULT_POLICY) => createPerRunStage({ policy, keyRing, partials: true });
const byView = (ps: readonly CohortPartial[], view: CohortPartial['view']) => ps.filter((p) => p.view === view);

describe('cohort partials from the per-run stage', () => {
  it('an llm_call gives spend, user and agent partials over the policy’s dimensions, priced when it has no cost', () => {
    const s = stage();
    const e = eventMaker('r1', 'bot', T0);
    s.apply(e.runStart());
    expect(s.drainPartials()).toEqual([]); // nothing a cohort detector reads
    const call = e.llm(1_000, 500, { model: 'gpt-4o' });
    s.apply(call);
    const out = s.drainPartials();
    expect(out.map((p) => p.view)).toEqual(['spend', 'user', 'agent']);
    const usd = priceLlmCall(call.llm, DEFAULT_POLICY.pricing).costUsd;
    expect(usd).toBeGreaterThan(0);
    expect(byView(out, 'spend')[0]).toMatchObject({ cohort: { tenant_id: 'tenant-1', agent_id: 'bot', user_id: 'user-1', model: 'gpt-4o' }, llm_calls: 1, tokens: 1_500, spend_usd: usd });
    expect(byView(out, 'user')[0]?.cohort).toEqual({ tenant_id: 'tenant-1', user_id: 'user-1' });
    expect(byView(out, 'agent')[0]).toMatchObject({ cohort: { agent_id: 'bot' }, top_runs: [{ run_id: 'r1', tokens: 1_500 }] });
    for (const p of out) expect(cohortPartialSchema.safeParse(p).success).toBe(true);
  });

  it('a stated cost_usd is used as it is', () => {
    const s = stage();
    s.apply(eventMaker('r1', 'bot', T0).llm(1_000, 500, { cost_usd: 0.25 }));
    expect(byView(s.drainPartials(), 'spend')[0]?.spend_usd).toBe(0.25);
  });

  it('the agent partial carries the run’s running token total; run_end its final total, once', () => {
    const s = stage();
    const e = eventMaker('r1', 'bot', T0);
    s.apply(e.llm(100, 50));
    s.apply(e.llm(200, 100));
    expect(byView(s.drainPartials(), 'agent').map((p) => p.top_runs)).toEqual([[{ run_id: 'r1', tokens: 450 }]]);
    s.apply(e.runEnd());
    const [ended] = s.drainPartials();
    expect(ended).toMatchObject({ view: 'agent', runs_ended: 1 });
    expect(sketchQuantile(ended!.run_tokens, 0.5)).toBeCloseTo(450, -1);
    s.apply(e.runEnd()); // a second run_end (another event_id) ends nothing
    expect(s.drainPartials()).toEqual([]);
  });

  it('a run evicted without run_end counts as ended at its last event; one that ended is not counted twice', () => {
    const policy = parsePolicy({ runs: { idle_timeout: '1m', grace_after_end: 0 } });
    const s = stage(policy);
    const idle = eventMaker('idle', 'bot', T0);
    s.apply(idle.llm(300, 100));
    const last = idle.llm(300, 100);
    s.apply(last);
    const done = eventMaker('done', 'bot', T0);
    s.apply(done.llm(10, 10));
    s.apply(done.runEnd());
    s.drainPartials();
    // Much later: both runs leave the table; only the idle one adds an ended run.
    s.apply(eventMaker('later', 'other', T0 + 10 * MINUTE_MS).runStart());
    const out = s.drainPartials();
    expect(out).toHaveLength(1);
    expect(out[0]).toMatchObject({ view: 'agent', cohort: { agent_id: 'bot' }, runs_ended: 1, last_ts: last.ts });
    expect(sketchQuantile(out[0]!.run_tokens, 0.5)).toBeCloseTo(800, -1);
    expect(s.runs.size).toBe(1);
  });

  it('a late run_end that evicts its own run at once still carries the run’s tokens', () => {
    const s = stage(parsePolicy({ runs: { grace_after_end: 0 } }));
    const e = eventMaker('r1', 'bot', T0);
    s.apply(e.llm(500, 500));
    s.apply(eventMaker('r2', 'bot', T0 + 5 * MINUTE_MS).runStart()); // the watermark moves on
    s.drainPartials();
    s.apply(e.runEnd());
    expect(s.runs.get('r1')).toBeUndefined();
    const [ended] = s.drainPartials();
    expect(sketchQuantile(ended!.run_tokens, 0.5)).toBeCloseTo(1_000, -1);
  });

  it('judge scores go to the judge cohort, and to each configured segment the event carries', () => {
    const s = stage(parsePolicy({ cohorts: { segments: ['plan_tier', 'region'] } }));
    const judge = (attrs: Record<string, string>): SpanEvent => ({ ...eventMaker('r1', 'bot', T0).judge(0.8), attrs });
    s.apply(judge({ model_version: 'v2', plan_tier: 'free' }));
    expect(s.drainPartials().map((p) => p.cohort)).toEqual([
      { agent_id: 'bot', model_version: 'v2', prompt_hash: '(none)' },
      { agent_id: 'bot', model_version: 'v2', prompt_hash: '(none)', plan_tier: 'free' },
    ]);
  });

  it('duplicates add nothing; without `partials` nothing is built', () => {
    const s = stage();
    const call = eventMaker('r1', 'bot', T0).llm();
    s.apply(call);
    s.apply(call);
    expect(s.drainPartials()).toHaveLength(3);
    const off = createPerRunStage({ policy: DEFAULT_POLICY, keyRing });
    off.apply(eventMaker('r1', 'bot', T0).llm());
    expect(off.drainPartials()).toEqual([]);
  });

  it('draining once at the end coalesces to exactly the merge of the one-event partials (same keys, same order)', () => {
    const events = simulateFleet({ runs: 60, seed: 3, startMs: T0 }).events.map((e) => spanEventSchema.parse(e));
    const s = stage();
    for (const e of events) s.apply(e);
    const coalesced = s.drainPartials();

    // Reference: partialOfEvent per view over cohortOf, merged by partialStateKey (the buffer's own keying).
    const ref = createPartialBuffer();
    const tokens = new Map<string, number>();
    for (const e of events) {
      const dims = DEFAULT_POLICY.cohorts;
      if (e.kind === 'llm_call') {
        const costUsd = priceLlmCall(e.llm, DEFAULT_POLICY.pricing).costUsd;
        const t = (tokens.get(e.run_id) ?? 0) + e.llm.input_tokens + e.llm.output_tokens;
        tokens.set(e.run_id, t);
        ref.add(partialOfEvent('spend', cohortOf(e, dims.spend), e, { costUsd }));
        ref.add(partialOfEvent('user', cohortOf(e, dims.user), e, { costUsd }));
        ref.add(partialOfEvent('agent', cohortOf(e, dims.agent), e, { costUsd, runTokens: t }));
      }
      if (e.kind === 'judge_score') ref.add(partialOfEvent('judge', cohortOf(e, dims.judge), e));
      if (e.kind === 'run_end') ref.add(partialOfEvent('agent', cohortOf(e, dims.agent), e, { endedRunTokens: tokens.get(e.run_id) ?? 0 }));
    }
    expect(coalesced).toEqual(ref.drain());
    expect(coalesced.length).toBeLessThan(events.length);
    const ended = coalesced.filter((p) => p.view === 'agent').reduce((n, p) => n + sketchCount(p.run_tokens), 0);
    expect(ended).toBe(60);
  });
});
