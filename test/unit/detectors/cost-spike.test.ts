import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  COST_SPIKE_DEFAULTS,
  costSpike,
  costSpikeParamIssues,
  costSpikeParamsSchema,
  costSpikeStateIdle,
  initialCostSpikeState,
  type CostSpikeParams,
  type CostSpikeState,
} from '../../../detectors/cost-spike.ts';
import { findingSchema, type Finding } from '../../../src/contracts/finding.ts';
import { commandForFinding } from '../../../src/control/commands.ts';
import { COMMANDS_DEFAULTS } from '../../../src/policy/policy-schema.ts';
import { cohortKey } from '../../../src/windows/cohort-key.ts';
import { emptyPartial, mergePartials, MINUTE_MS, type CohortPartial, type CohortView } from '../../../src/windows/cohort-partial.ts';
import { draws, spendPartials, T0 } from '../windows/cohort-sim.ts';

const SPEND = { tenant_id: 't1', agent_id: 'bot', user_id: 'u1', model: 'gpt-4o' };
const P = COST_SPIKE_DEFAULTS;

interface Fired {
  finding: Finding;
  /** Minutes since T0 (fractional) of the finding. */
  at: number;
}

/** Runs the detector over partials in order; `checkpoint` round-trips the state through JSON before each. */
function drive(partials: readonly CohortPartial[], params: CostSpikeParams = P, view: CohortView = 'spend', checkpoint = false) {
  let state: CostSpikeState = initialCostSpikeState(view, partials[0]?.cohort ?? SPEND, params);
  const fired: Fired[] = [];
  for (const p of partials) {
    if (checkpoint) state = JSON.parse(JSON.stringify(state)) as CostSpikeState;
    const r = costSpike(state, p, { params, now: p.last_ts });
    state = r.state;
    for (const finding of r.findings) fired.push({ finding, at: (finding.ts - T0) / MINUTE_MS });
  }
  return { state, fired };
}

/** `perMinute[m]` usd spent in minute m, delivered as `deltas` equal partials spread over the minute. */
function steady(perMinute: readonly number[], deltas = 4, view: CohortView = 'spend', calls = 5): CohortPartial[] {
  const out: CohortPartial[] = [];
  perMinute.forEach((usd, m) => {
    for (let i = 0; i < deltas; i++) {
      const p = emptyPartial(view, view === 'user' ? { tenant_id: 't1', user_id: 'u1' } : SPEND, T0 + m * MINUTE_MS + Math.floor(((i + 0.5) * MINUTE_MS) / deltas));
      p.events = 1;
      p.spend_usd = usd / deltas;
      p.llm_calls = Math.round(calls / deltas);
      out.push(p);
    }
  });
  return out;
}

describe('cost-spike params', () => {
  it('defaults validate', () => {
    expect(costSpikeParamsSchema.parse(COST_SPIKE_DEFAULTS)).toEqual(COST_SPIKE_DEFAULTS);
    expect(costSpikeParamIssues(COST_SPIKE_DEFAULTS)).toEqual([]);
  });

  it.each([
    { patch: { spike_min_ratio: 0.5 }, path: 'spike_min_ratio' },
    { patch: { baseline_minutes: 5 }, path: 'baseline_minutes' },
    { patch: { user_rate_multiplier: 1 }, path: 'user_rate_multiplier' },
    { patch: { run_tokens_quantile: 1 }, path: 'run_tokens_quantile' },
    { patch: { typo_field: 1 }, path: '' },
  ])('rejects $patch', ({ patch, path }) => {
    const r = costSpikeParamsSchema.safeParse({ ...COST_SPIKE_DEFAULTS, ...patch });
    expect(r.success).toBe(false);
    if (path) expect(r.error?.issues[0]?.path).toEqual([path]);
  });

  it('cross-field issues name the field to change', () => {
    expect(costSpikeParamIssues({ ...P, min_history_minutes: 90 }).map((i) => i.path)).toEqual(['min_history_minutes']);
    expect(costSpikeParamIssues({ ...P, run_tokens_bucket_minutes: 7 }).map((i) => i.path)).toEqual(['run_tokens_bucket_minutes']);
  });
});

describe('cost-spike: spend per cohort', () => {
  const flat = (minutes: number, usd: number) => Array<number>(minutes).fill(usd);

  it.each([
    { name: 'a constant cohort', minutes: flat(240, 5) },
    { name: 'a cohort below the absolute floor spiking 20×', minutes: [...flat(60, 0.02), ...flat(10, 0.4), ...flat(30, 0.02)] },
    { name: 'a spike before the minimum history', minutes: [...flat(10, 5), 100, ...flat(10, 5)] },
    { name: 'a sporadic cohort with ordinary busy minutes', minutes: Array.from({ length: 240 }, (_, m) => (m % 7 === 0 ? 8 : m % 13 === 0 ? 12 : 0)) },
    { name: 'a slow doubling over four hours', minutes: Array.from({ length: 240 }, (_, m) => 5 * (1 + m / 240)) },
  ])('never fires on $name', ({ minutes }) => {
    expect(drive(steady(minutes)).fired).toEqual([]);
  });

  it('a constant or mildly noisy cohort never fires (property)', () => {
    fc.assert(
      fc.property(
        fc.double({ min: 0.5, max: 50, noNaN: true }),
        fc.double({ min: 0, max: 0.3, noNaN: true }),
        fc.integer({ min: 1, max: 6 }),
        fc.integer({ min: 1, max: 1e6 }),
        (level, cv, deltas, seed) => {
          const d = draws(seed);
          const minutes = Array.from({ length: 150 }, () => Math.max(0, level * (1 + cv * d.normal())));
          expect(drive(steady(minutes, deltas)).fired).toEqual([]);
        },
      ),
      { numRuns: 40 },
    );
  });

  it.each([1, 2, 3])('a realistic cohort (3 runs/min, 4 calls per run, lognormal cost) stays quiet for a day (seed %i)', (seed) => {
    expect(drive(spendPartials({ seed, minutes: 1440, runsPerMinute: 3, callsPerRun: 4, costPerCall: 0.1 })).fired).toEqual([]);
  });

  it.each(Array.from({ length: 10 }, (_, i) => i + 1))('a 10× spike fires within its first minute, mid-minute (seed %i)', (seed) => {
    const partials = spendPartials({ seed, minutes: 130, runsPerMinute: 3, callsPerRun: 1, costPerCall: 0.3, multiplier: (m) => (m >= 120 ? 10 : 1) });
    const { fired } = drive(partials);
    expect(fired).toHaveLength(1);
    const [first] = fired;
    expect(first!.finding.rule).toBe('spend_spike');
    expect(first!.at).toBeGreaterThanOrEqual(120);
    expect(first!.at).toBeLessThan(121);
  });

  it.each(Array.from({ length: 10 }, (_, i) => i + 1))('a 5× sustained rise fires within 3 minutes (seed %i)', (seed) => {
    const partials = spendPartials({ seed, minutes: 130, runsPerMinute: 3, callsPerRun: 1, costPerCall: 0.3, multiplier: (m) => (m >= 120 ? 5 : 1) });
    const { fired } = drive(partials);
    expect(fired).toHaveLength(1);
    expect(fired[0]!.at).toBeGreaterThanOrEqual(120);
    expect(fired[0]!.at).toBeLessThan(123);
  });

  it('fires the moment the running minute crosses the threshold, not when the minute closes', () => {
    // 60 minutes at $5, then $100 spread over 10 deltas of minute 60: threshold ≈ 3 × p90 = $15.
    const { fired } = drive(steady([...flat(60, 5), 100], 10));
    expect(fired).toHaveLength(1);
    expect(fired[0]!.at).toBeLessThan(60.25);
  });

  it('one finding per episode; re-armed once the cohort is back to normal', () => {
    const spike = flat(5, 100);
    const { fired, state } = drive(steady([...flat(60, 5), ...spike, ...flat(2, 5), ...spike, ...flat(10, 5), ...spike, ...flat(10, 5)]));
    // The first two spikes are one episode (only 2 calm minutes between them, 3 needed).
    expect(fired.map((f) => Math.floor(f.at))).toEqual([60, 82]);
    expect(new Set(fired.map((f) => f.finding.finding_id)).size).toBe(2);
    expect(state.episode).toBeNull();
  });

  it('the finding throttles the cohort, names the baseline, and maps to a signed-able throttle command', () => {
    const { fired } = drive(steady([...flat(60, 5), 100], 4, 'spend', 8));
    const f = fired[0]!.finding;
    expect(findingSchema.safeParse(f).success).toBe(true);
    expect(f).toMatchObject({
      detector: 'cost-spike',
      rule: 'spend_spike',
      severity: 'critical',
      scope: { kind: 'cohort', id: cohortKey(SPEND) },
      cohort: SPEND,
      baseline: 5,
      details: { action: 'throttle', throttle: { max_llm_calls_per_minute: 16 }, view: 'spend' },
    });
    expect(f.observed).toBeGreaterThan(f.threshold);
    const cmd = commandForFinding(f, { commands: COMMANDS_DEFAULTS });
    expect(cmd).toMatchObject({ action: 'throttle', scope: f.scope, throttle: { max_llm_calls_per_minute: 16 }, issued_at: f.ts, expires_at: f.ts + COMMANDS_DEFAULTS.ttl.throttle });
  });

  it('throttle delay and floor come from the params', () => {
    const params = { ...P, throttle_delay_ms: 500, throttle_min_llm_calls_per_minute: 50 };
    const f = drive(steady([...flat(60, 5), 100]), params).fired[0]!.finding;
    expect(f.details?.['throttle']).toEqual({ max_llm_calls_per_minute: 50, delay_ms: 500 });
  });

  it('is deterministic, survives a JSON checkpoint before every partial, and ids depend on the episode', () => {
    const partials = steady([...flat(60, 5), ...flat(3, 100), ...flat(10, 5), 100, ...flat(5, 5)]);
    const a = drive(partials);
    const b = drive(partials, P, 'spend', true);
    expect(b.fired).toEqual(a.fired);
    expect(b.state).toEqual(a.state);
    expect(a.fired).toHaveLength(2);
    expect(a.fired[0]!.finding.finding_id).not.toBe(a.fired[1]!.finding.finding_id);
  });

  it('coarser deltas (merged partials) give the same finding within the same minute', () => {
    const fine = spendPartials({ seed: 4, minutes: 125, runsPerMinute: 3, callsPerRun: 1, costPerCall: 0.3, multiplier: (m) => (m >= 120 ? 10 : 1) });
    // Merge each minute's deltas in groups of 5 (a producer flushing less often).
    const coarse: CohortPartial[] = [];
    for (const p of fine) {
      const last = coarse[coarse.length - 1];
      if (last && last.minute === p.minute && last.events < 5) coarse[coarse.length - 1] = mergePartials(last, p);
      else coarse.push(p);
    }
    const a = drive(fine).fired;
    const b = drive(coarse).fired;
    expect(b).toHaveLength(1);
    expect(Math.floor(b[0]!.at)).toBe(Math.floor(a[0]!.at));
    expect(b[0]!.at).toBeGreaterThanOrEqual(a[0]!.at);
  });

  it('a late partial feeds the baseline, and fires when it completes a spike of its own minute', () => {
    const partials = steady(flat(60, 5));
    const small = emptyPartial('spend', SPEND, T0 + 55 * MINUTE_MS + 1);
    small.spend_usd = 1;
    const quiet = drive([...partials, small]);
    expect(quiet.fired).toEqual([]);
    expect(quiet.state.minutes.closed.find((b) => b.index === small.minute)?.value.spend_usd).toBeCloseTo(6, 9);

    const late = { ...small, spend_usd: 500 };
    const { fired, state } = drive([...partials, late]);
    expect(state.minutes.closed.find((b) => b.index === late.minute)?.value.spend_usd).toBeCloseTo(505, 9);
    expect(fired).toHaveLength(1);
    expect(fired[0]!.finding).toMatchObject({ rule: 'spend_spike', ts: late.last_ts });
    // The same spike in order (as replay sees it) has the same finding id: its episode is its minute.
    const inOrder = drive(steady([...flat(55, 5), 505, ...flat(4, 5)]));
    expect(inOrder.fired.map((f) => f.finding.finding_id)).toEqual([fired[0]!.finding.finding_id]);
  });

  it('a late partial of a minute whose episode already fired and re-armed fires nothing (one finding id, one content)', () => {
    // Minute 60 spikes and fires; the next minutes arrive thin (their other partials are late), so
    // they look calm and the episode re-arms; then the rest of minute 60 arrives.
    const base = steady(flat(60, 5));
    const spike = emptyPartial('spend', SPEND, T0 + 60 * MINUTE_MS + 1_000);
    spike.spend_usd = 100;
    const thin = steady([...flat(60, 0), 0, ...flat(P.rearm_minutes + 2, 5)]).filter((p) => p.minute > spike.minute);
    const rest = emptyPartial('spend', SPEND, T0 + 60 * MINUTE_MS + 50_000);
    rest.spend_usd = 400;
    const { fired, state } = drive([...base, spike, ...thin, rest]);
    expect(state.episode).toBeNull(); // re-armed before the late partial came
    expect(state.quarantine.some((q) => q.from === spike.minute)).toBe(true);
    expect(fired.map((f) => f.finding.rule)).toEqual(['spend_spike']);
    expect(fired[0]!.finding.ts).toBe(spike.last_ts);
    // The late partial still counts in its minute (the baseline learns the full total).
    expect(state.minutes.closed.find((b) => b.index === spike.minute)?.value.spend_usd).toBeCloseTo(500, 9);
  });

  it('is idle (droppable) only past its windows and with no episode open', () => {
    const calm = drive(steady(flat(20, 5))).state;
    const last = T0 / MINUTE_MS + 19;
    expect(costSpikeStateIdle(calm, last + P.baseline_minutes, P)).toBe(false);
    expect(costSpikeStateIdle(calm, last + P.baseline_minutes + 1, P)).toBe(true);
    const alarmed = drive(steady([...flat(60, 5), 100])).state;
    expect(alarmed.episode).not.toBeNull();
    expect(costSpikeStateIdle(alarmed, 10_000, P)).toBe(false);
  });

  it('ignores partials of another view, and does nothing when disabled', () => {
    const partials = steady([...flat(60, 5), 100]);
    expect(drive(partials, { ...P, enabled: false }).fired).toEqual([]);
    const s = initialCostSpikeState('spend', SPEND, P);
    const judge = { ...partials[0]!, view: 'judge' as const };
    expect(costSpike(s, judge, { params: P, now: judge.last_ts }).state).toBe(s);
  });
});

describe('cost-spike: a user’s LLM-call rate', () => {
  const userMinutes = (calls: readonly number[]) =>
    calls.map((c, m) => {
      const p = emptyPartial('user', { tenant_id: 't1', user_id: 'u1' }, T0 + m * MINUTE_MS + 30_000);
      p.llm_calls = c;
      return p;
    });

  it.each([
    { name: 'above 5× baseline and the floor', calls: [...Array<number>(30).fill(10), 60], fires: true },
    { name: 'above 5× baseline but under the floor of 30', calls: [...Array<number>(30).fill(2), 25], fires: false },
    { name: 'a quiet user uses the baseline floor (2/min) → 5 × 2 = 10 < floor 30', calls: [...Array<number>(30).fill(0), 31], fires: true },
    { name: 'under 5× baseline', calls: [...Array<number>(30).fill(10), 49], fires: false },
  ])('$name', ({ calls, fires }) => {
    const { fired } = drive(userMinutes(calls), P, 'user');
    expect(fired.length).toBe(fires ? 1 : 0);
    if (fires) {
      expect(fired[0]!.finding).toMatchObject({ rule: 'llm_rate', scope: { kind: 'cohort', id: 'tenant_id=t1,user_id=u1' }, details: { action: 'throttle' } });
    }
  });

  it('disabled by user_rate_enabled', () => {
    expect(drive(userMinutes([...Array<number>(30).fill(10), 60]), { ...P, user_rate_enabled: false }, 'user').fired).toEqual([]);
  });
});

describe('cost-spike: a run’s tokens above the agent’s rolling p99', () => {
  const AGENT = { agent_id: 'bot' };
  /** Completed runs (tokens drawn around 10k) for `hours`, then partials carrying running totals. */
  function agentPartials(hours: number, completedPerMinute: number, running: { minute: number; run_id: string; tokens: number }[]) {
    const d = draws(9);
    const out: CohortPartial[] = [];
    for (let m = 0; m < hours * 60; m++) {
      const p = emptyPartial('agent', AGENT, T0 + m * MINUTE_MS + 1000);
      for (let i = 0; i < completedPerMinute; i++) {
        const q = emptyPartial('agent', AGENT, p.first_ts);
        q.runs_ended = 1;
        q.run_tokens = { alpha: 0.01, zeros: 0, bins: [] };
        out.push(mergePartials(p, endedRun(q, Math.round(d.lognormal(10_000, 0.3)))));
      }
      for (const r of running.filter((x) => x.minute === m)) {
        const q = emptyPartial('agent', AGENT, T0 + m * MINUTE_MS + 2000);
        q.top_runs = [{ run_id: r.run_id, tokens: r.tokens }];
        out.push(q);
      }
    }
    return out;
  }
  const endedRun = (p: CohortPartial, tokens: number): CohortPartial => ({ ...p, run_tokens: { alpha: 0.01, zeros: 0, bins: [[Math.ceil(Math.log(tokens) / Math.log(1.01 / 0.99)), 1]] } });

  it('warns once per run above the p99 after the minimum history, on the run’s scope', () => {
    const running = [
      { minute: 30, run_id: 'early-big', tokens: 90_000 },
      { minute: 100, run_id: 'normal', tokens: 12_000 },
      { minute: 101, run_id: 'big', tokens: 40_000 },
      { minute: 102, run_id: 'big', tokens: 60_000 },
    ];
    const { fired } = drive(agentPartials(2, 5, running), P, 'agent');
    expect(fired.map((f) => f.finding.scope)).toEqual([{ kind: 'run', id: 'big' }]);
    const f = fired[0]!.finding;
    expect(f).toMatchObject({ rule: 'run_tokens_p99', severity: 'warning', cohort: AGENT, details: { action: 'warn', quantile: 0.99 } });
    expect(f.threshold).toBeGreaterThan(12_000);
    expect(f.threshold).toBeLessThan(40_000);
    expect(findingSchema.safeParse(f).success).toBe(true);
  });

  it('needs run_tokens_min_runs completed runs', () => {
    const { fired } = drive(agentPartials(2, 1, [{ minute: 100, run_id: 'big', tokens: 60_000 }]), P, 'agent');
    expect(fired).toEqual([]);
  });
});
