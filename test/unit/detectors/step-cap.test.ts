import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { findingSchema, type Finding } from '../../../src/contracts/finding.ts';
import type { SpanEvent } from '../../../src/contracts/span.ts';
import { initialStepCapState, stepCap, STEP_CAP_DEFAULTS, type StepCaps } from '../../../detectors/step-cap.ts';
import { DEFAULT_PRICE_TABLE } from '../../../src/pricing/price-table.ts';
import { eventMaker } from './make-events.ts';

const DEFAULT_CAPS: StepCaps = { ...STEP_CAP_DEFAULTS };

/** Runs the detector over events; returns each finding with the 1-based index of its event. */
function drive(events: SpanEvent[], caps: StepCaps = DEFAULT_CAPS) {
  let state = initialStepCapState();
  const out: { at: number; finding: Finding }[] = [];
  events.forEach((e, i) => {
    const r = stepCap(state, e, { caps, prices: DEFAULT_PRICE_TABLE, now: e.ts });
    state = r.state;
    for (const f of r.findings) out.push({ at: i + 1, finding: findingSchema.parse(f) });
  });
  return { state, out };
}

const make = eventMaker();
const repeat = <T>(n: number, f: () => T) => Array.from({ length: n }, f);

describe('step-cap: each cap warns once at ≥ 75 % and aborts once on the step that reaches it', () => {
  const cases = [
    {
      metric: 'llm_calls',
      events: () => repeat(40, () => make.llm(5, 5, { cost_usd: 0.001 })),
      warnAt: 23, // 23 ≥ 0.75 × 30 = 22.5
      abortAt: 30,
      warnThreshold: 22.5,
      cap: 30,
    },
    { metric: 'tool_calls', events: () => repeat(120, () => make.tool('search')), warnAt: 75, abortAt: 100, warnThreshold: 75, cap: 100 },
    {
      metric: 'tokens',
      events: () => repeat(25, () => make.llm(8_000, 2_000, { cost_usd: 0 })),
      warnAt: 15, // 150 000 tokens
      abortAt: 20, // 200 000 tokens
      warnThreshold: 150_000,
      cap: 200_000,
    },
    {
      metric: 'cost_usd',
      events: () => repeat(25, () => make.llm(1, 1, { cost_usd: 0.25 })),
      warnAt: 15, // $3.75
      abortAt: 20, // $5.00
      warnThreshold: 3.75,
      cap: 5,
    },
  ] as const;

  it.each(cases)('$metric: warn at step $warnAt, abort at step $abortAt', ({ metric, events, warnAt, abortAt, warnThreshold, cap }) => {
    const { out } = drive(events());
    const mine = out.filter((o) => o.finding.rule.startsWith(metric));
    expect(mine.map((o) => [o.finding.rule, o.at])).toEqual([
      [`${metric}_warn`, warnAt],
      [`${metric}_abort`, abortAt],
    ]);
    const [warn, abort] = mine;
    expect(warn?.finding).toMatchObject({ severity: 'warning', threshold: warnThreshold, scope: { kind: 'run', id: 'run-1' } });
    expect(abort?.finding).toMatchObject({ severity: 'critical', threshold: cap });
    expect(abort?.finding.observed).toBeCloseTo(cap, 9);
    expect(abort?.finding.details).toMatchObject({ metric, cap, agent_id: 'agent-a', tenant_id: 'tenant-1', user_id: 'user-1' });
  });

  it('a step that crosses warn and cap at once emits only the abort', () => {
    const { out } = drive([make.llm(150_000, 100_000, { cost_usd: 0 })]);
    expect(out.map((o) => o.finding.rule)).toEqual(['tokens_abort']);
    expect(out[0]?.finding).toMatchObject({ observed: 250_000, threshold: 200_000 });
  });

  it('counts nothing for judge_score / run_end / side_effect', () => {
    const { state, out } = drive([make.judge(0.5), make.runEnd()]);
    expect(out).toEqual([]);
    expect(state).toEqual(initialStepCapState());
  });
});

describe('step-cap: run limits', () => {
  it('a late run_start that tightens below the current count aborts at once', () => {
    const events: SpanEvent[] = [...repeat(10, () => make.llm(1, 1, { cost_usd: 0 }))];
    let { state } = drive(events);
    const caps: StepCaps = { ...DEFAULT_CAPS, max_llm_calls: 8 };
    const start = make.runStart({ max_llm_calls: 8 });
    const r = stepCap(state, start, { caps, prices: DEFAULT_PRICE_TABLE, now: start.ts });
    state = r.state;
    expect(r.findings.map((f) => [f.rule, f.observed, f.threshold, f.ts])).toEqual([['llm_calls_abort', 10, 8, start.ts]]);
  });

  it('a cap of 0 aborts at the first step of its kind, not at run_start', () => {
    const caps: StepCaps = { ...DEFAULT_CAPS, max_tool_calls: 0 };
    const { out } = drive([make.runStart({ max_tool_calls: 0 }), make.llm(1, 1), make.tool('x')], caps);
    expect(out.map((o) => [o.finding.rule, o.at, o.finding.observed, o.finding.threshold])).toEqual([['tool_calls_abort', 3, 1, 0]]);
  });
});

describe('step-cap: pricing', () => {
  it('prices from the table when cost_usd is absent', () => {
    const { state } = drive([make.llm(1_000_000, 0, { model: 'gpt-4o' })]);
    expect(state.cost_usd).toBeCloseTo(2.5, 9);
  });

  it('reports an unpriced model once per run (info) and counts it at $0', () => {
    const { state, out } = drive([make.llm(10, 10, { model: 'mystery-1' }), make.llm(10, 10, { model: 'mystery-1' })]);
    expect(out.map((o) => [o.finding.rule, o.finding.severity, o.at])).toEqual([['unpriced_model', 'info', 1]]);
    expect(out[0]?.finding.details).toMatchObject({ model: 'mystery-1' });
    expect(state).toMatchObject({ cost_usd: 0, unpriced_llm_calls: 2 });
  });
});

describe('step-cap: ids and purity', () => {
  it('finding ids are deterministic per (rule, run) and differ across rules and runs', () => {
    const a = drive(repeat(30, () => make.llm(1, 1, { cost_usd: 0 }))).out.map((o) => o.finding.finding_id);
    const b = drive(repeat(30, () => make.llm(1, 1, { cost_usd: 0 }))).out.map((o) => o.finding.finding_id);
    expect(a).toEqual(b);
    expect(new Set(a).size).toBe(a.length);
    const other = eventMaker('run-2');
    const c = drive(repeat(30, () => other.llm(1, 1, { cost_usd: 0 }))).out.map((o) => o.finding.finding_id);
    expect(c.some((id) => a.includes(id))).toBe(false);
  });

  it('does not mutate the input state', () => {
    const s0 = initialStepCapState();
    const frozen = structuredClone(s0);
    stepCap(s0, make.llm(100_000, 100_000, { cost_usd: 9 }), { caps: DEFAULT_CAPS, prices: DEFAULT_PRICE_TABLE, now: 0 });
    expect(s0).toEqual(frozen);
  });
});

describe('step-cap properties', () => {
  const step = fc.oneof(
    fc.record({ kind: fc.constant('llm' as const), input: fc.nat(2_000), output: fc.nat(2_000), usd: fc.double({ min: 0, max: 0.1, noNaN: true }) }),
    fc.record({ kind: fc.constant('tool' as const) }),
  );

  it('a run that stays under every cap is never aborted', () => {
    fc.assert(
      fc.property(fc.array(step, { maxLength: 60 }), (steps) => {
        const m = eventMaker('prop');
        const events = steps.map((s) => (s.kind === 'llm' ? m.llm(s.input, s.output, { cost_usd: s.usd }) : m.tool('t')));
        const llm = steps.filter((s) => s.kind === 'llm');
        const tokens = llm.reduce((a, s) => a + s.input + s.output, 0);
        const usd = llm.reduce((a, s) => a + s.usd, 0);
        fc.pre(llm.length < 30 && steps.length - llm.length < 100 && tokens < 200_000 && usd < 5 - 1e-9);
        const { out } = drive(events);
        expect(out.filter((o) => o.finding.severity === 'critical')).toEqual([]);
      }),
    );
  });

  it('every abort names its rule and observed ≥ threshold; each rule fires at most once', () => {
    fc.assert(
      fc.property(fc.array(step, { maxLength: 150 }), fc.integer({ min: 0, max: 40 }), (steps, maxLlm) => {
        const m = eventMaker('prop');
        const events = steps.map((s) => (s.kind === 'llm' ? m.llm(s.input * 50, s.output * 50, { cost_usd: s.usd * 5 }) : m.tool('t')));
        const { out } = drive(events, { ...DEFAULT_CAPS, max_llm_calls: maxLlm });
        const rules = out.map((o) => o.finding.rule);
        expect(new Set(rules).size).toBe(rules.length);
        for (const { finding } of out.filter((o) => o.finding.severity === 'critical')) {
          expect(finding.rule).toMatch(/^(llm_calls|tool_calls|tokens|cost_usd)_abort$/);
          expect(finding.observed).toBeGreaterThanOrEqual(finding.threshold);
        }
      }),
    );
  });
});
