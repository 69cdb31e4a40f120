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

describe('step-cap: boundaries (warn at ≥ 75 % exactly, abort at exactly 100 %)', () => {
  const cases: { name: string; caps: Partial<StepCaps>; events: () => SpanEvent[]; expected: [string, number, number, number][] }[] = [
    { name: '74 tool calls of 100: below 75 %, nothing', caps: {}, events: () => repeat(74, () => make.tool('t')), expected: [] },
    { name: '75 tool calls of 100: exactly 75 % warns', caps: {}, events: () => repeat(75, () => make.tool('t')), expected: [['tool_calls_warn', 75, 75, 75]] },
    { name: '99 tool calls of 100: warn only', caps: {}, events: () => repeat(99, () => make.tool('t')), expected: [['tool_calls_warn', 75, 75, 75]] },
    {
      name: 'cap 4 LLM calls: the 3rd is exactly 75 %, the 4th aborts',
      caps: { max_llm_calls: 4 },
      events: () => repeat(5, () => make.llm(1, 1, { cost_usd: 0 })),
      expected: [
        ['llm_calls_warn', 3, 3, 3],
        ['llm_calls_abort', 4, 4, 4],
      ],
    },
    { name: '149 999 tokens: just under 75 % of 200k', caps: {}, events: () => [make.llm(149_998, 1, { cost_usd: 0 })], expected: [] },
    { name: '150 000 tokens: exactly 75 % of 200k', caps: {}, events: () => [make.llm(149_999, 1, { cost_usd: 0 })], expected: [['tokens_warn', 1, 150_000, 150_000]] },
    {
      name: '199 999 tokens then 1 more: aborts on the token that reaches 200k',
      caps: {},
      events: () => [make.llm(199_998, 1, { cost_usd: 0 }), make.llm(1, 0, { cost_usd: 0 })],
      expected: [
        ['tokens_warn', 1, 199_999, 150_000],
        ['tokens_abort', 2, 200_000, 200_000],
      ],
    },
    {
      // $0.10 fifty times sums to 4.999999999999998 in binary floating point.
      name: '$0.10 × 50 reaches $5 exactly: warns at the 38th ($3.80 ≥ $3.75), aborts at the 50th',
      caps: { max_llm_calls: 1000 },
      events: () => repeat(50, () => make.llm(1, 1, { cost_usd: 0.1 })),
      expected: [
        ['cost_usd_warn', 38, 3.8, 3.75],
        ['cost_usd_abort', 50, 5, 5],
      ],
    },
    {
      // 0.55 × 100 is 55.00000000000001 in binary floating point.
      name: 'warn_ratio 0.55 of 100 tool calls warns at exactly the 55th',
      caps: { warn_ratio: 0.55 },
      events: () => repeat(56, () => make.tool('t')),
      expected: [['tool_calls_warn', 55, 55, 55]],
    },
    {
      name: 'warn_ratio 1: no separate warn, only the abort at the cap',
      caps: { warn_ratio: 1, max_tool_calls: 3 },
      events: () => repeat(4, () => make.tool('t')),
      expected: [['tool_calls_abort', 3, 3, 3]],
    },
    {
      name: 'a tighter run_start limit ($1) aborts at the 10th $0.10 call',
      caps: { max_cost_usd: 1 },
      events: () => [make.runStart({ max_cost_usd: 1 }), ...repeat(10, () => make.llm(1, 1, { cost_usd: 0.1 }))],
      expected: [
        ['cost_usd_warn', 9, 0.8, 0.75],
        ['cost_usd_abort', 11, 1, 1],
      ],
    },
  ];

  it.each(cases)('$name', ({ caps, events, expected }) => {
    const { out } = drive(events(), { ...DEFAULT_CAPS, ...caps });
    expect(out.map((o) => [o.finding.rule, o.at, o.finding.observed, o.finding.threshold])).toEqual(expected);
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
