import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { findingSchema, type Finding } from '../../../src/contracts/finding.ts';
import type { SpanEvent } from '../../../src/contracts/span.ts';
import { initialToolLoopState, toolLoop, TOOL_LOOP_DEFAULTS, type ToolLoopParams } from '../../../detectors/tool-loop.ts';
import { eventMaker } from './make-events.ts';

/** Compact step notation: "A:x" = tool A with args_hash x; "A" = tool A without args_hash. */
function events(steps: readonly string[], runId = 'run-1'): SpanEvent[] {
  const m = eventMaker(runId);
  return steps.map((s) => {
    const [tool = '', args] = s.split(':');
    return m.tool(tool, args);
  });
}

function drive(evs: SpanEvent[], params: ToolLoopParams = TOOL_LOOP_DEFAULTS) {
  let state = initialToolLoopState();
  const out: { at: number; finding: Finding }[] = [];
  evs.forEach((e, i) => {
    const r = toolLoop(state, e, { params, now: e.ts });
    state = r.state;
    for (const f of r.findings) out.push({ at: i + 1, finding: findingSchema.parse(f) });
  });
  return { state, out };
}

const times = (n: number, s: string | ((i: number) => string)) => Array.from({ length: n }, (_, i) => (typeof s === 'string' ? s : s(i)));
/** [rule, step, observed, threshold] of every finding. */
const summary = (out: { at: number; finding: Finding }[]) => out.map((o) => [o.finding.rule, o.at, o.finding.observed, o.finding.threshold]);

describe('tool-loop rules (SPEC §3.2), default limits', () => {
  const cases: { name: string; steps: string[]; expected: (string | number)[][] }[] = [
    {
      name: 'identical call 6 times in a row → repeat warn at 3, abort at the 6th (the 7th is blocked)',
      steps: times(10, 'A:x'),
      expected: [
        ['repeated_call', 3, 3, 3],
        ['identical_consecutive', 6, 6, 5],
      ],
    },
    { name: 'identical call 5 times in a row → only the repeat warn', steps: times(5, 'A:x'), expected: [['repeated_call', 3, 3, 3]] },
    {
      name: 'same tool, differing args: warn at the 6th, abort at the 16th',
      steps: times(20, (i) => `page:p${i}`),
      expected: [
        ['differing_consecutive_warn', 6, 6, 5],
        ['differing_consecutive_abort', 16, 16, 15],
      ],
    },
    { name: 'same tool, differing args 5 in a row → nothing', steps: times(5, (i) => `page:p${i}`), expected: [] },
    {
      name: 'identical A→B cycle: abort after 3 full turns (6th step); repeat warn when A:x is seen the 3rd time',
      steps: times(8, (i) => (i % 2 ? 'B:y' : 'A:x')),
      expected: [
        ['repeated_call', 5, 3, 3],
        ['identical_cycle', 6, 3, 3],
      ],
    },
    {
      name: 'identical A→B→C cycle (period 3): abort at the 9th step',
      steps: times(9, (i) => ['A:1', 'B:2', 'C:3'][i % 3] ?? ''),
      expected: [
        ['repeated_call', 7, 3, 3],
        ['identical_cycle', 9, 3, 3],
      ],
    },
    {
      name: 'period-4 cycle A→B→C→D: abort at the 12th step',
      steps: times(12, (i) => ['A:1', 'B:2', 'C:3', 'D:4'][i % 4] ?? ''),
      expected: [
        ['repeated_call', 9, 3, 3],
        ['identical_cycle', 12, 3, 3],
      ],
    },
    {
      name: 'A→B cycle with differing args: warn after 3 turns, no abort',
      steps: times(10, (i) => (i % 2 ? `B:b${i}` : `A:a${i}`)),
      expected: [['differing_cycle', 6, 3, 3]],
    },
    { name: 'A→B for 2 turns + 1 step → no cycle yet, only the repeat warn', steps: ['A:x', 'B:y', 'A:x', 'B:y', 'A:x'], expected: [['repeated_call', 5, 3, 3]] },
    {
      name: 'period-5 cycles are out of range (2–4): only the repeat warn',
      steps: times(15, (i) => ['A:1', 'B:2', 'C:3', 'D:4', 'E:5'][i % 5] ?? ''),
      expected: [['repeated_call', 11, 3, 3]],
    },
    { name: 'same (tool, args) 3 times, not consecutive → repeat warn', steps: ['A:x', 'B:1', 'A:x', 'C:2', 'A:x'], expected: [['repeated_call', 5, 3, 3]] },
    {
      name: 'missing args_hash: never identical, but the same-tool streak still warns and aborts',
      steps: times(17, 'A'),
      expected: [
        ['differing_consecutive_warn', 6, 6, 5],
        ['differing_consecutive_abort', 16, 16, 15],
      ],
    },
    {
      name: 'a streak that turns identical: differing warn on the 6th, identical abort when 6 identical end it',
      steps: ['A:1', 'A:2', ...times(6, 'A:3')],
      expected: [
        ['repeated_call', 5, 3, 3],
        ['differing_consecutive_warn', 6, 6, 5],
        ['identical_consecutive', 8, 6, 5],
      ],
    },
  ];

  it.each(cases)('$name', ({ steps, expected }) => {
    expect(summary(drive(events(steps)).out)).toEqual(expected);
  });

  it('alternating args on one tool is an identical cycle and a differing streak', () => {
    const { out } = drive(events(times(6, (i) => (i % 2 ? 'A:y' : 'A:x'))));
    expect(summary(out)).toEqual([
      ['differing_consecutive_warn', 6, 6, 5],
      ['identical_cycle', 6, 3, 3],
      ['repeated_call', 5, 3, 3],
    ].sort((a, b) => Number(a[1]) - Number(b[1]) || order(String(a[0])) - order(String(b[0]))));
  });
});

describe('tool-loop boundaries and policy limits', () => {
  const cases: { name: string; steps: string[]; params?: Partial<ToolLoopParams>; expected: (string | number)[][] }[] = [
    {
      name: 'identical ×5, a different call, identical ×5: the streak resets, never aborts',
      steps: [...times(5, 'A:x'), 'B:y', ...times(5, 'A:x')],
      params: { repeat_warn_at: 100 },
      expected: [],
    },
    {
      name: 'differing args 15 in a row: warn at the 6th, no abort (limit 15)',
      steps: times(15, (i) => `page:p${i}`),
      expected: [['differing_consecutive_warn', 6, 6, 5]],
    },
    {
      name: 'a policy with a higher abort limit (warn 5, abort 8): warn at the 6th, abort at the 9th',
      steps: times(12, (i) => `page:p${i}`),
      params: { max_differing_consecutive_warn: 5, max_differing_consecutive_abort: 8 },
      expected: [
        ['differing_consecutive_warn', 6, 6, 5],
        ['differing_consecutive_abort', 9, 9, 8],
      ],
    },
    {
      name: 'warn and abort limits equal: both fire on the same step, the abort first',
      steps: times(7, (i) => `page:p${i}`),
      params: { max_differing_consecutive_warn: 5, max_differing_consecutive_abort: 5 },
      expected: [
        ['differing_consecutive_abort', 6, 6, 5],
        ['differing_consecutive_warn', 6, 6, 5],
      ],
    },
    {
      name: 'a differing streak broken by another tool restarts the count',
      steps: [...times(5, (i) => `page:p${i}`), 'other:1', ...times(5, (i) => `page:q${i}`)],
      expected: [],
    },
    {
      name: 'period-4 cycle, 2 full turns + 3 steps: not yet',
      steps: times(11, (i) => ['A:1', 'B:2', 'C:3', 'D:4'][i % 4] ?? ''),
      params: { repeat_warn_at: 100 },
      expected: [],
    },
    {
      name: 'period-4 cycle with differing args: warn after 3 turns (12th step), no abort',
      steps: times(16, (i) => `${['A', 'B', 'C', 'D'][i % 4] ?? ''}:${i}`),
      expected: [['differing_cycle', 12, 3, 3]],
    },
    {
      name: 'period-3 cycle with differing args: warn at the 9th step',
      steps: times(9, (i) => `${['A', 'B', 'C'][i % 3] ?? ''}:${i}`),
      expected: [['differing_cycle', 9, 3, 3]],
    },
    {
      name: 'A→B cycle without args_hash: a differing cycle (warn), never an identical one',
      steps: times(10, (i) => (i % 2 ? 'B' : 'A')),
      expected: [['differing_cycle', 6, 3, 3]],
    },
    {
      name: 'a cycle interrupted after 2 turns restarts its turn count',
      steps: ['A:x', 'B:y', 'A:x', 'B:y', 'C:z', 'A:x', 'B:y', 'A:x', 'B:y'],
      params: { repeat_warn_at: 100 },
      expected: [],
    },
    {
      name: 'cycle_min_turns 4: an A→B cycle aborts at the 8th step',
      steps: times(10, (i) => (i % 2 ? 'B:y' : 'A:x')),
      params: { cycle_min_turns: 4, repeat_warn_at: 100 },
      expected: [['identical_cycle', 8, 4, 4]],
    },
    {
      name: 'cycle periods limited to 2–3: a period-4 cycle is not reported',
      steps: times(16, (i) => ['A:1', 'B:2', 'C:3', 'D:4'][i % 4] ?? ''),
      params: { cycle_max_period: 3, repeat_warn_at: 100 },
      expected: [],
    },
    {
      name: 'the same (tool, args) twice anywhere: below the repeat warn',
      steps: ['A:x', 'B:1', 'C:2', 'A:x', 'D:3'],
      expected: [],
    },
    {
      name: 'repeat_warn_at 2: warns at the second time a call is seen',
      steps: ['A:x', 'B:1', 'A:x'],
      params: { repeat_warn_at: 2 },
      expected: [['repeated_call', 3, 2, 2]],
    },
    { name: 'the same args_hash on different tools is not a repeat', steps: ['A:x', 'B:x', 'C:x', 'D:x'], expected: [] },
    { name: 'an empty run: nothing', steps: [], expected: [] },
  ];

  it.each(cases)('$name', ({ steps, params, expected }) => {
    expect(summary(drive(events(steps), { ...TOOL_LOOP_DEFAULTS, ...params }).out)).toEqual(expected);
  });

  it('the abort after a differing streak names the tool, the streak and the limit', () => {
    const f = drive(events(times(16, (i) => `page:p${i}`))).out.find((o) => o.finding.rule === 'differing_consecutive_abort')?.finding;
    expect(f).toMatchObject({ severity: 'critical', observed: 16, threshold: 15, details: { tool: 'page', consecutive: 16, step: 16 } });
  });

  it('a period-4 identical cycle carries the 4 steps of its turn', () => {
    const steps = times(12, (i) => ['A:1', 'B:2', 'C:3', 'D:4'][i % 4] ?? '');
    const f = drive(events(steps)).out.find((o) => o.finding.rule === 'identical_cycle')?.finding;
    expect(f?.details).toMatchObject({
      period: 4,
      turns: 3,
      cycle: [
        { tool: 'A', args_hash: '1' },
        { tool: 'B', args_hash: '2' },
        { tool: 'C', args_hash: '3' },
        { tool: 'D', args_hash: '4' },
      ],
    });
  });
});

const RULE_ORDER = ['identical_consecutive', 'differing_consecutive_abort', 'differing_consecutive_warn', 'identical_cycle', 'differing_cycle', 'repeated_call'];
const order = (r: string) => RULE_ORDER.indexOf(r);

describe('tool-loop findings explain themselves', () => {
  it('identical_consecutive names the tool, args and count', () => {
    const f = drive(events(times(6, 'lookup:abc'))).out.find((o) => o.finding.rule === 'identical_consecutive')?.finding;
    expect(f).toMatchObject({
      detector: 'tool-loop',
      severity: 'critical',
      scope: { kind: 'run', id: 'run-1' },
      details: { tool: 'lookup', args_hash: 'abc', consecutive: 6, step: 6, agent_id: 'agent-a' },
    });
  });

  it('cycles carry period, turns and the cycle itself', () => {
    const f = drive(events(times(6, (i) => (i % 2 ? 'B:y' : 'A:x')))).out.find((o) => o.finding.rule === 'identical_cycle')?.finding;
    expect(f?.details).toMatchObject({
      period: 2,
      turns: 3,
      cycle: [
        { tool: 'A', args_hash: 'x' },
        { tool: 'B', args_hash: 'y' },
      ],
    });
  });

  it('finding ts is the triggering event ts', () => {
    const evs = events(times(6, 'A:x'));
    const f = drive(evs).out.find((o) => o.finding.rule === 'identical_consecutive')?.finding;
    expect(f?.ts).toBe(evs[5]?.ts);
  });
});

describe('tool-loop params and bounded state', () => {
  it('honours custom limits', () => {
    const params = { ...TOOL_LOOP_DEFAULTS, max_identical_consecutive: 2, repeat_warn_at: 10 };
    expect(summary(drive(events(times(4, 'A:x')), params).out)).toEqual([['identical_consecutive', 3, 3, 2]]);
  });

  it('counts at most max_tracked_calls distinct pairs and says when it overflowed', () => {
    const params = { ...TOOL_LOOP_DEFAULTS, max_tracked_calls: 4 };
    const steps = [...times(10, (i) => `T${i}:a`), 'T0:a', 'T0:a', 'T9:a', 'T9:a', 'T9:a'];
    const { state, out } = drive(events(steps), params);
    expect(state.tracked_calls).toBe(4);
    expect(Object.keys(state.counts)).toHaveLength(4);
    expect(state.counts_overflowed).toBe(true);
    expect(summary(out)).toEqual([['repeated_call', 12, 3, 3]]);
  });

  it('keeps only cycle_max_period recent steps', () => {
    const { state } = drive(events(times(50, (i) => `T${i % 7}:${i}`)));
    expect(state.recent).toHaveLength(TOOL_LOOP_DEFAULTS.cycle_max_period);
  });

  it('ignores every event but tool_call', () => {
    const m = eventMaker();
    const s0 = initialToolLoopState();
    const r = toolLoop(s0, m.llm(), { params: TOOL_LOOP_DEFAULTS, now: 0 });
    expect(r).toEqual({ state: s0, findings: [] });
  });

  it('state survives a JSON checkpoint round trip', () => {
    const evs = events(times(12, (i) => (i % 2 ? 'B:y' : 'A:x')));
    const straight = drive(evs).out.map((o) => o.finding);
    let state = initialToolLoopState();
    const resumed: Finding[] = [];
    for (const e of evs) {
      const r = toolLoop(JSON.parse(JSON.stringify(state)), e, { params: TOOL_LOOP_DEFAULTS, now: e.ts });
      state = r.state;
      resumed.push(...r.findings);
    }
    expect(resumed).toEqual(straight);
  });
});

describe('tool-loop properties', () => {
  it('a run without any repeated (tool, args) and short same-tool streaks is never aborted', () => {
    fc.assert(
      fc.property(fc.array(fc.constantFrom('A', 'B', 'C', 'D', 'E'), { maxLength: 200 }), (tools) => {
        // Every call has fresh args, and no tool runs more than 15 times in a row.
        let streak = 0;
        const steps = tools.map((t, i) => {
          streak = i > 0 && tools[i - 1] === t ? streak + 1 : 1;
          return streak > 15 ? `Z:${i}` : `${t}:${i}`;
        });
        const { out } = drive(events(steps));
        expect(out.filter((o) => o.finding.severity === 'critical')).toEqual([]);
        expect(out.filter((o) => o.finding.rule === 'repeated_call')).toEqual([]);
      }),
    );
  });

  it('an abort always names its rule, with observed ≥ threshold; each rule fires at most once', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.constantFrom('A', 'B', 'C'), fc.option(fc.constantFrom('1', '2'))), { maxLength: 120 }), (pairs) => {
        const steps = pairs.map(([t, a]) => (a === null ? t : `${t}:${a}`));
        const { out } = drive(events(steps));
        const rules = out.map((o) => o.finding.rule);
        expect(new Set(rules).size).toBe(rules.length);
        for (const { finding } of out) {
          expect(RULE_ORDER).toContain(finding.rule);
          expect(finding.observed).toBeGreaterThanOrEqual(finding.threshold);
          expect(finding.severity === 'critical').toBe(['identical_consecutive', 'differing_consecutive_abort', 'identical_cycle'].includes(finding.rule));
        }
      }),
    );
  });

  it('a single tool called identically is always stopped on its 6th call', () => {
    fc.assert(
      fc.property(fc.integer({ min: 6, max: 50 }), fc.string({ minLength: 1, maxLength: 8 }), (n, args) => {
        const { out } = drive(events(times(n, `T:${args.replaceAll(':', '_')}`)));
        const abort = out.find((o) => o.finding.severity === 'critical');
        expect(abort?.at).toBe(6);
      }),
    );
  });
});
