import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { findingSchema, type Finding } from '../../../src/contracts/finding.ts';
import type { SpanEvent } from '../../../src/contracts/span.ts';
import { initialStepCapState, stepCap, STEP_CAP_DEFAULTS, type StepCaps, type StepCapState } from '../../../detectors/step-cap.ts';
import {
  initialToolLoopState,
  toolLoop,
  TOOL_LOOP_DEFAULTS,
  TOOL_LOOP_RULES,
  toolLoopParamIssues,
  type ToolLoopParams,
  type ToolLoopState,
} from '../../../detectors/tool-loop.ts';
import { DEFAULT_PRICE_TABLE } from '../../../src/pricing/price-table.ts';
import { eventMaker } from './make-events.ts';

/**
 * Invariants of the per-run detectors (SPEC §3.1, §3.2) over generated runs:
 * (a) a run under every cap and without repetition is never aborted;
 * (b) every finding names its rule, observed and threshold, on the run's scope, and an abort has
 *     observed ≥ threshold;
 * (c) each rule fires at most once per run;
 * (d) the same events give the same findings, ids included.
 */

/** One generated step; `args` null = no args_hash. Costs in whole cents so exact sums are known. */
type Step =
  | { kind: 'llm'; input: number; output: number; cents: number }
  | { kind: 'tool'; tool: string; args: string | null }
  | { kind: 'judge' }
  | { kind: 'start'; limits: { max_llm_calls?: number; max_tool_calls?: number } };

const STEP_CAP_RULES = ['llm_calls', 'tool_calls', 'tokens', 'cost_usd'].flatMap((m) => [`${m}_warn`, `${m}_abort`]).concat('unpriced_model');
const ABORT_RULES = new Set(['identical_consecutive', 'differing_consecutive_abort', 'identical_cycle', ...STEP_CAP_RULES.filter((r) => r.endsWith('_abort'))]);

function toEvents(steps: readonly Step[], runId = 'run-p'): SpanEvent[] {
  const m = eventMaker(runId);
  return steps.map((s) => {
    switch (s.kind) {
      case 'llm':
        return m.llm(s.input, s.output, { cost_usd: s.cents / 100 });
      case 'tool':
        return m.tool(s.tool, s.args ?? undefined);
      case 'judge':
        return m.judge(0.5);
      case 'start':
        return m.runStart(s.limits);
    }
  });
}

interface Driven {
  out: { at: number; event: SpanEvent; finding: Finding }[];
  stepCap: StepCapState;
  toolLoop: ToolLoopState;
}

/** Both per-run detectors over one run; `checkpoint` round-trips the state through JSON before every event. */
function drive(events: readonly SpanEvent[], caps: StepCaps, params: ToolLoopParams, checkpoint = false): Driven {
  let sc = initialStepCapState();
  let tl = initialToolLoopState();
  const out: Driven['out'] = [];
  events.forEach((event, i) => {
    if (checkpoint) {
      sc = JSON.parse(JSON.stringify(sc)) as StepCapState;
      tl = JSON.parse(JSON.stringify(tl)) as ToolLoopState;
    }
    const a = stepCap(sc, event, { caps, prices: DEFAULT_PRICE_TABLE, now: event.ts });
    const b = toolLoop(tl, event, { params, now: event.ts });
    sc = a.state;
    tl = b.state;
    for (const finding of [...a.findings, ...b.findings]) out.push({ at: i + 1, event, finding });
  });
  return { out, stepCap: sc, toolLoop: tl };
}

const DEFAULT_CAPS: StepCaps = { ...STEP_CAP_DEFAULTS };

// ---- generators ---------------------------------------------------------------------------------

const capsArb: fc.Arbitrary<StepCaps> = fc.record({
  max_llm_calls: fc.integer({ min: 0, max: 40 }),
  max_tool_calls: fc.integer({ min: 0, max: 60 }),
  max_tokens: fc.integer({ min: 0, max: 50_000 }),
  max_cost_usd: fc.constantFrom(0, 0.05, 0.3, 1, 2.5, 5),
  warn_ratio: fc.constantFrom(0.5, 0.55, 0.75, 0.8, 0.9, 1),
});

/** Valid tool-loop params (the cross-field checks hold). */
const paramsArb: fc.Arbitrary<ToolLoopParams> = fc
  .record({
    max_identical_consecutive: fc.integer({ min: 1, max: 8 }),
    max_differing_consecutive_warn: fc.integer({ min: 1, max: 8 }),
    extra_abort: fc.integer({ min: 0, max: 10 }),
    cycle_min_period: fc.integer({ min: 2, max: 4 }),
    extra_period: fc.integer({ min: 0, max: 4 }),
    cycle_min_turns: fc.integer({ min: 2, max: 4 }),
    repeat_warn_at: fc.integer({ min: 2, max: 6 }),
    max_tracked_calls: fc.integer({ min: 1, max: 64 }),
  })
  .map(({ extra_abort, extra_period, ...p }) => ({
    ...p,
    enabled: true,
    max_differing_consecutive_abort: p.max_differing_consecutive_warn + extra_abort,
    cycle_max_period: Math.min(8, p.cycle_min_period + extra_period),
  }));

/** Arbitrary runs with plenty of repetition: few tools, few args, some unknown args. */
const anyStepArb: fc.Arbitrary<Step> = fc.oneof(
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('llm' as const), input: fc.nat(3_000), output: fc.nat(1_000), cents: fc.nat(40) }) },
  {
    weight: 6,
    arbitrary: fc.record({
      kind: fc.constant('tool' as const),
      tool: fc.constantFrom('A', 'B', 'C', 'D'),
      args: fc.option(fc.constantFrom('1', '2', '3'), { freq: 6 }),
    }),
  },
  { weight: 1, arbitrary: fc.constant({ kind: 'judge' as const }) },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('start' as const),
      limits: fc.record({ max_llm_calls: fc.nat(40), max_tool_calls: fc.nat(60) }, { requiredKeys: [] }),
    }),
  },
);
const anyRunArb = fc.array(anyStepArb, { maxLength: 150 });

/**
 * Runs without repetition: every tool call has fresh args (or none), and no tool runs longer than
 * `maxStreak` calls in a row (the streak is broken by alternating two other tools).
 */
const freshRunArb = (maxStreak: number): fc.Arbitrary<Step[]> =>
  fc
    .array(
      fc.oneof(
        fc.record({ kind: fc.constant('llm' as const), input: fc.nat(2_000), output: fc.nat(2_000), cents: fc.nat(20) }),
        fc.record({ kind: fc.constant('tool' as const), tool: fc.constantFrom('A', 'B', 'C'), hashed: fc.boolean() }),
        fc.constant({ kind: 'judge' as const }),
      ),
      { maxLength: 200 },
    )
    .map((raw) => {
      let last: string | undefined;
      let streak = 0;
      return raw.map((s, i): Step => {
        if (s.kind !== 'tool') return s;
        let tool: string = s.tool;
        streak = tool === last ? streak + 1 : 1;
        if (streak > maxStreak) {
          tool = `Z${i % 2}`;
          streak = 1;
        }
        last = tool;
        return { kind: 'tool', tool, args: s.hashed ? `fresh-${i}` : null };
      });
    });

const totals = (steps: readonly Step[]) => {
  let llm = 0;
  let tools = 0;
  let tokens = 0;
  let cents = 0;
  for (const s of steps) {
    if (s.kind === 'llm') {
      llm += 1;
      tokens += s.input + s.output;
      cents += s.cents;
    } else if (s.kind === 'tool') tools += 1;
  }
  return { llm, tools, tokens, cents };
};

// ---- properties ---------------------------------------------------------------------------------

describe('(a) a run under every cap and without repetition is never aborted', () => {
  it('default caps and params: no critical finding, no repeat or identical-call finding', () => {
    fc.assert(
      fc.property(freshRunArb(TOOL_LOOP_DEFAULTS.max_differing_consecutive_abort), (steps) => {
        const t = totals(steps);
        fc.pre(t.llm < 30 && t.tools < 100 && t.tokens < 200_000 && t.cents < 500);
        const { out } = drive(toEvents(steps), DEFAULT_CAPS, TOOL_LOOP_DEFAULTS);
        expect(out.filter((o) => o.finding.severity === 'critical').map((o) => o.finding.rule)).toEqual([]);
        expect(out.map((o) => o.finding.rule)).not.toContain('repeated_call');
      }),
      { numRuns: 300 },
    );
  });

  it('any valid caps and params, caps set just above the run’s totals: never aborted', () => {
    fc.assert(
      fc.property(
        paramsArb.chain((params) => fc.tuple(fc.constant(params), freshRunArb(params.max_differing_consecutive_abort))),
        fc.nat(5),
        fc.constantFrom(0.5, 0.75, 1),
        ([params, steps], slack, warnRatio) => {
          const t = totals(steps);
          const caps: StepCaps = {
            max_llm_calls: t.llm + 1 + slack,
            max_tool_calls: t.tools + 1 + slack,
            max_tokens: t.tokens + 1 + slack,
            max_cost_usd: (t.cents + 1 + slack) / 100,
            warn_ratio: warnRatio,
          };
          const { out } = drive(toEvents(steps), caps, params);
          expect(out.filter((o) => ABORT_RULES.has(o.finding.rule)).map((o) => o.finding.rule)).toEqual([]);
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('(b) every finding names its rule and numbers, on the run scope', () => {
  it('shape, scope, ts and observed ≥ threshold (aborts: critical)', () => {
    fc.assert(
      fc.property(anyRunArb, capsArb, paramsArb, fc.constantFrom('run-a', 'run/β', 'r'), (steps, caps, params, runId) => {
        const { out } = drive(toEvents(steps, runId), caps, params);
        for (const { event, finding } of out) {
          expect(findingSchema.safeParse(finding).success).toBe(true);
          const rules: readonly string[] = finding.detector === 'step-cap' ? STEP_CAP_RULES : TOOL_LOOP_RULES;
          expect(rules).toContain(finding.rule);
          expect(finding.scope).toEqual({ kind: 'run', id: runId });
          expect(finding.ts).toBe(event.ts);
          expect(Number.isFinite(finding.observed) && Number.isFinite(finding.threshold)).toBe(true);
          expect(finding.observed).toBeGreaterThanOrEqual(finding.threshold);
          expect(finding.severity === 'critical').toBe(ABORT_RULES.has(finding.rule));
          expect(finding.details).toMatchObject({ agent_id: event.agent_id, tenant_id: event.tenant_id, user_id: event.user_id });
          // The numbers a person needs: which metric or which tool.
          if (finding.detector === 'step-cap' && finding.rule !== 'unpriced_model') {
            expect(finding.details).toHaveProperty('metric');
            expect(finding.details).toHaveProperty('cap');
          }
          if (finding.detector === 'tool-loop') {
            expect(finding.details).toSatisfy((d: Record<string, unknown>) => 'tool' in d || 'cycle' in d);
          }
        }
      }),
      { numRuns: 300 },
    );
  });

  it('a cap is aborted exactly on the step whose exact (decimal) total first reaches it', () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ kind: fc.constant('llm' as const), input: fc.nat(3_000), output: fc.nat(1_000), cents: fc.nat(60) }), { maxLength: 80 }),
        fc.integer({ min: 1, max: 800 }),
        (steps, capCents) => {
          const caps: StepCaps = { ...DEFAULT_CAPS, max_llm_calls: 1_000, max_tokens: 10_000_000, max_cost_usd: capCents / 100 };
          const { out } = drive(toEvents(steps), caps, TOOL_LOOP_DEFAULTS);
          let sum = 0;
          const reachedAt = steps.findIndex((s) => (sum += s.cents) >= capCents);
          const abort = out.find((o) => o.finding.rule === 'cost_usd_abort');
          expect(abort?.at).toBe(reachedAt === -1 ? undefined : reachedAt + 1);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('every generated tool step that makes 6 identical calls in a row is aborted by then (default params)', () => {
    fc.assert(
      fc.property(anyRunArb, (steps) => {
        const events = toEvents(steps);
        const { out } = drive(events, { ...DEFAULT_CAPS, max_tool_calls: 10_000, max_llm_calls: 10_000, max_tokens: 1e9, max_cost_usd: 1e6 }, TOOL_LOOP_DEFAULTS);
        let streak = 0;
        let prev: string | undefined;
        let firstAt: number | undefined;
        steps.forEach((s, i) => {
          if (s.kind !== 'tool') return;
          const key = s.args === null ? undefined : `${s.tool}:${s.args}`;
          streak = key !== undefined && key === prev ? streak + 1 : 1;
          prev = key;
          if (streak === 6 && firstAt === undefined) firstAt = i + 1;
        });
        if (firstAt !== undefined) {
          const firstAbort = out.find((o) => o.finding.detector === 'tool-loop' && o.finding.severity === 'critical');
          expect(firstAbort?.at).toBeLessThanOrEqual(firstAt);
        }
      }),
      { numRuns: 300 },
    );
  });
});

describe('(c) each rule fires at most once per run', () => {
  it('no (detector, rule) twice, and every finding_id is distinct', () => {
    fc.assert(
      fc.property(anyRunArb, capsArb, paramsArb, (steps, caps, params) => {
        const { out } = drive(toEvents(steps), caps, params);
        const keys = out.map((o) => `${o.finding.detector}/${o.finding.rule}`);
        expect(new Set(keys).size).toBe(keys.length);
        const ids = out.map((o) => o.finding.finding_id);
        expect(new Set(ids).size).toBe(ids.length);
      }),
      { numRuns: 300 },
    );
  });

  it('a long run that breaks every rule still reports each rule once', () => {
    const steps: Step[] = [
      ...Array.from({ length: 40 }, (): Step => ({ kind: 'llm', input: 10_000, output: 10_000, cents: 30 })),
      ...Array.from({ length: 3 }, (): Step[] => Array.from({ length: 20 }, (_, i): Step => ({ kind: 'tool', tool: 'A', args: String(i % 2 ? 'x' : i) }))).flat(),
      ...Array.from({ length: 30 }, (_, i): Step => ({ kind: 'tool', tool: i % 2 ? 'B' : 'C', args: 'same' })),
      ...Array.from({ length: 30 }, (): Step => ({ kind: 'tool', tool: 'D', args: 'same' })),
      ...Array.from({ length: 40 }, (_, i): Step => ({ kind: 'tool', tool: 'E', args: String(i) })),
    ];
    const { out } = drive(toEvents(steps), DEFAULT_CAPS, TOOL_LOOP_DEFAULTS);
    const keys = out.map((o) => `${o.finding.detector}/${o.finding.rule}`);
    expect(new Set(keys).size).toBe(keys.length);
    expect(keys).toEqual(
      expect.arrayContaining([
        'step-cap/llm_calls_abort',
        'step-cap/tokens_abort',
        'step-cap/cost_usd_abort',
        'step-cap/tool_calls_abort',
        'tool-loop/identical_consecutive',
        'tool-loop/differing_consecutive_abort',
        'tool-loop/identical_cycle',
        'tool-loop/repeated_call',
      ]),
    );
  });
});

describe('(d) determinism', () => {
  it('the same events give identical findings (ids included), with or without a JSON checkpoint per event', () => {
    fc.assert(
      fc.property(anyRunArb, capsArb, paramsArb, (steps, caps, params) => {
        const events = toEvents(steps);
        const first = drive(events, caps, params);
        const again = drive(structuredClone(events), caps, params);
        const resumed = drive(events, caps, params, true);
        expect(again.out).toEqual(first.out);
        expect(resumed.out).toEqual(first.out);
        expect(again.stepCap).toEqual(first.stepCap);
        expect(again.toolLoop).toEqual(first.toolLoop);
      }),
      { numRuns: 200 },
    );
  });

  it('finding ids depend on the run: another run_id never shares one', () => {
    fc.assert(
      fc.property(anyRunArb, capsArb, (steps, caps) => {
        const a = drive(toEvents(steps, 'run-a'), caps, TOOL_LOOP_DEFAULTS).out.map((o) => o.finding.finding_id);
        const b = drive(toEvents(steps, 'run-b'), caps, TOOL_LOOP_DEFAULTS).out.map((o) => o.finding.finding_id);
        expect(a.filter((id) => b.includes(id))).toEqual([]);
      }),
      { numRuns: 100 },
    );
  });

  it('the generated tool-loop params are valid (the generator honours the cross-field checks)', () => {
    fc.assert(
      fc.property(paramsArb, (p) => {
        expect(toolLoopParamIssues(p)).toEqual([]);
      }),
    );
  });
});
