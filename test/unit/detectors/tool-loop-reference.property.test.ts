import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Finding } from '../../../src/contracts/finding.ts';
import type { SpanEvent } from '../../../src/contracts/span.ts';
import {
  initialToolLoopState,
  MAX_CYCLE_PERIOD,
  toolLoop,
  TOOL_LOOP_DEFAULTS,
  type RecentStep,
  type ToolLoopParams,
  type ToolLoopRule,
  type ToolLoopState,
} from '../../../detectors/tool-loop.ts';
import { runFinding } from '../../../detectors/lib/run-finding.ts';
import { eventMaker } from './make-events.ts';

// ---- reference: SPEC §3.2 written the straightforward way (immutable state, step objects, a
// count per `tool \0 args_hash` key) — the detector as it was before its state was compacted.

interface RefStep {
  tool: string;
  args: string | null;
}

interface RefState {
  steps: number;
  recent: readonly RefStep[];
  identical: number;
  sameTool: number;
  /** Index p: consecutive steps equal (tool and args) to the step p earlier. */
  callMatch: readonly number[];
  /** Index p: consecutive steps with the same tool as the step p earlier. */
  toolMatch: readonly number[];
  counts: Readonly<Record<string, number>>;
  tracked: number;
  overflowed: boolean;
  fired: readonly ToolLoopRule[];
}

const refInitial = (): RefState => ({ steps: 0, recent: [], identical: 0, sameTool: 0, callMatch: [], toolMatch: [], counts: {}, tracked: 0, overflowed: false, fired: [] });

const refSameCall = (a: RefStep, b: RefStep): boolean => a.args !== null && a.tool === b.tool && a.args === b.args;

function refToolLoop(state: RefState, event: SpanEvent, p: ToolLoopParams): { state: RefState; findings: Finding[] } {
  if (event.kind !== 'tool_call') return { state, findings: [] };
  const step: RefStep = { tool: event.tool.name, args: event.tool.args_hash ?? null };
  const prev = state.recent[state.recent.length - 1];
  const identical = prev !== undefined && refSameCall(prev, step) ? state.identical + 1 : 1;
  const sameTool = prev !== undefined && prev.tool === step.tool ? state.sameTool + 1 : 1;
  const callMatch = new Array<number>(p.cycle_max_period + 1).fill(0);
  const toolMatch = new Array<number>(p.cycle_max_period + 1).fill(0);
  for (let period = p.cycle_min_period; period <= p.cycle_max_period; period++) {
    const back = state.recent[state.recent.length - period];
    callMatch[period] = back !== undefined && refSameCall(back, step) ? (state.callMatch[period] ?? 0) + 1 : 0;
    toolMatch[period] = back !== undefined && back.tool === step.tool ? (state.toolMatch[period] ?? 0) + 1 : 0;
  }
  const recent = [...state.recent, step].slice(-p.cycle_max_period);
  let { counts, tracked, overflowed } = state;
  let repeats = 0;
  if (step.args !== null) {
    const key = `${step.tool}\u0000${step.args}`;
    const seen = Object.hasOwn(counts, key) ? counts[key] : undefined;
    if (seen !== undefined || tracked < p.max_tracked_calls) {
      repeats = (seen ?? 0) + 1;
      counts = { ...counts, [key]: repeats };
      if (seen === undefined) tracked += 1;
    } else overflowed = true;
  }
  const next: RefState = { steps: state.steps + 1, recent, identical, sameTool, callMatch, toolMatch, counts, tracked, overflowed, fired: state.fired };
  const fired = new Set(state.fired);
  const findings: Finding[] = [];
  const fire = (rule: ToolLoopRule, observed: number, threshold: number, details: Record<string, unknown>) => {
    if (fired.has(rule)) return;
    fired.add(rule);
    const abort = rule === 'identical_consecutive' || rule === 'differing_consecutive_abort' || rule === 'identical_cycle';
    findings.push(
      runFinding({ detector: 'tool-loop', rule, severity: abort ? 'critical' : 'warning', event, observed, threshold, details: { step: next.steps, ...details } }),
    );
  };
  const call = { tool: step.tool, args_hash: step.args };
  if (identical > p.max_identical_consecutive) fire('identical_consecutive', identical, p.max_identical_consecutive, { ...call, consecutive: identical });
  const differing = identical < sameTool;
  if (differing && sameTool > p.max_differing_consecutive_abort) {
    fire('differing_consecutive_abort', sameTool, p.max_differing_consecutive_abort, { tool: step.tool, consecutive: sameTool });
  }
  if (differing && sameTool > p.max_differing_consecutive_warn) {
    fire('differing_consecutive_warn', sameTool, p.max_differing_consecutive_warn, { tool: step.tool, consecutive: sameTool });
  }
  const cycle = refFindCycle(next, p);
  const details = (c: { period: number; turns: number }) => ({
    period: c.period,
    turns: c.turns,
    cycle: recent.slice(-c.period).map((x) => ({ tool: x.tool, args_hash: x.args })),
  });
  if (cycle?.identical) fire('identical_cycle', cycle.turns, p.cycle_min_turns, details(cycle));
  else if (cycle) fire('differing_cycle', cycle.turns, p.cycle_min_turns, details(cycle));
  if (repeats >= p.repeat_warn_at) fire('repeated_call', repeats, p.repeat_warn_at, { ...call, count: repeats, distinct_calls_tracked: tracked });
  return { state: fired.size === state.fired.length ? next : { ...next, fired: [...fired] }, findings };
}

function refFindCycle(s: RefState, p: ToolLoopParams): { period: number; turns: number; identical: boolean } | undefined {
  const last = s.recent[s.recent.length - 1];
  if (!last) return undefined;
  let byTool: { period: number; turns: number; identical: boolean } | undefined;
  for (let period = p.cycle_min_period; period <= p.cycle_max_period; period++) {
    const need = period * (p.cycle_min_turns - 1);
    const turn = s.recent.slice(-period);
    if (turn.length < period) break;
    const callRun = s.callMatch[period] ?? 0;
    if (callRun >= need && turn.some((x) => !refSameCall(x, last))) return { period, turns: Math.floor(callRun / period) + 1, identical: true };
    const toolRun = s.toolMatch[period] ?? 0;
    if (!byTool && toolRun >= need && turn.some((x) => x.tool !== last.tool)) byTool = { period, turns: Math.floor(toolRun / period) + 1, identical: false };
  }
  return byTool;
}

// ---- the compact state, read back as the reference's --------------------------------------------

function window(s: ToolLoopState): RefStep[] {
  return s.recent.map((r: RecentStep) =>
    typeof r === 'number' ? { tool: s.calls[2 * r] as string, args: s.calls[2 * r + 1] as string } : typeof r === 'string' ? { tool: r, args: null } : { ...r },
  );
}

function countsByKey(s: ToolLoopState): Record<string, number> {
  const out: Record<string, number> = {};
  s.counts.forEach((n, i) => (out[`${s.calls[2 * i]}\u0000${s.calls[2 * i + 1]}`] = n));
  return out;
}

/** Drives both over `events`; `checkpointAt(i)` round-trips the compact state through JSON before event i. */
function compare(events: readonly SpanEvent[], params: ToolLoopParams, checkpointAt: (i: number) => boolean = () => false) {
  let ref = refInitial();
  let state = initialToolLoopState();
  events.forEach((event, i) => {
    if (checkpointAt(i)) state = JSON.parse(JSON.stringify(state)) as ToolLoopState;
    const a = refToolLoop(ref, event, params);
    const b = toolLoop(state, event, { params, now: event.ts });
    expect(b.findings).toEqual(a.findings);
    // Byte-identical output (replay): same keys in the same order.
    expect(JSON.stringify(b.findings)).toBe(JSON.stringify(a.findings));
    ref = a.state;
    state = b.state;
    expect(state.steps).toBe(ref.steps);
    expect(window(state)).toEqual(ref.recent);
    expect(state.identical_streak).toBe(ref.identical);
    expect(state.same_tool_streak).toBe(ref.sameTool);
    expect(countsByKey(state)).toEqual(ref.counts);
    expect(state.tracked_calls).toBe(ref.tracked);
    expect(Object.keys(state.counts)).toHaveLength(ref.tracked);
    expect(state.counts_overflowed).toBe(ref.overflowed);
  });
}

// ---- generators ------------------------------------------------------------------------------------

const paramsArb: fc.Arbitrary<ToolLoopParams> = fc
  .record({
    max_identical_consecutive: fc.integer({ min: 1, max: 8 }),
    max_differing_consecutive_warn: fc.integer({ min: 1, max: 8 }),
    extra_abort: fc.integer({ min: 0, max: 10 }),
    cycle_min_period: fc.integer({ min: 2, max: MAX_CYCLE_PERIOD }),
    extra_period: fc.integer({ min: 0, max: MAX_CYCLE_PERIOD - 2 }),
    cycle_min_turns: fc.integer({ min: 2, max: 4 }),
    repeat_warn_at: fc.integer({ min: 2, max: 6 }),
    // Small tables overflow; above 16 pairs the table is indexed by a Map.
    max_tracked_calls: fc.oneof(fc.integer({ min: 1, max: 8 }), fc.integer({ min: 9, max: 60 })),
  })
  .map(({ extra_abort, extra_period, ...p }) => ({
    ...p,
    enabled: true,
    max_differing_consecutive_abort: p.max_differing_consecutive_warn + extra_abort,
    cycle_max_period: Math.min(MAX_CYCLE_PERIOD, p.cycle_min_period + extra_period),
  }));

/**
 * Tool calls with much repetition (few tools and args, cycles), some unknown args, and names
 * holding a \0 so that two different pairs share a count key: ("A\0b", "c") and ("A", "b\0c").
 */
type Call = [string, string | null];
const callArb: fc.Arbitrary<Call> = fc.oneof(
  { weight: 6, arbitrary: fc.tuple(fc.constantFrom('A', 'B', 'C'), fc.constantFrom<string | null>('1', '2', '3', null)) },
  { weight: 2, arbitrary: fc.tuple(fc.constantFrom('A', 'B', 'C', 'D', 'E'), fc.integer({ min: 0, max: 40 }).map(String)).map(([t, a]): Call => [t, a]) },
  { weight: 1, arbitrary: fc.constantFrom<Call>(['A\u0000b', 'c'], ['A', 'b\u0000c'], ['A\u0000b', null]) },
);

/** A period-k cycle of calls repeated a few times, to reach the cycle rules. */
const cycleArb = fc
  .tuple(fc.array(callArb, { minLength: 2, maxLength: MAX_CYCLE_PERIOD }), fc.integer({ min: 1, max: 5 }))
  .map(([turn, times]) => Array.from({ length: times }, () => turn).flat());

const runArb = fc.array(fc.oneof({ weight: 3, arbitrary: callArb.map((c) => [c]) }, { weight: 1, arbitrary: cycleArb }), { maxLength: 40 }).map((xs) => xs.flat());

function toEvents(calls: readonly (readonly [string, string | null])[]): SpanEvent[] {
  const m = eventMaker('run-ref');
  // An LLM call now and then: the detector ignores every other kind.
  return calls.flatMap(([tool, args], i) => (i % 7 === 3 ? [m.llm(), m.tool(tool, args ?? undefined)] : [m.tool(tool, args ?? undefined)]));
}

describe('tool-loop compact state ≡ reference implementation (SPEC §3.2)', () => {
  it('same findings (ids, details, order) and the same counts, window and streaks after every event', () => {
    fc.assert(
      fc.property(runArb, paramsArb, (calls, params) => compare(toEvents(calls), params)),
      { numRuns: 400 },
    );
  });

  it('… also through JSON checkpoints at arbitrary points', () => {
    fc.assert(
      fc.property(runArb, paramsArb, fc.array(fc.boolean(), { minLength: 1, maxLength: 16 }), (calls, params, cuts) =>
        compare(toEvents(calls), params, (i) => cuts[i % cuts.length] === true),
      ),
      { numRuns: 300 },
    );
  });

  it('… with the default params', () => {
    fc.assert(
      fc.property(runArb, (calls) => compare(toEvents(calls), TOOL_LOOP_DEFAULTS)),
      { numRuns: 300 },
    );
  });

  it('… past the scanned size: hundreds of distinct pairs, repeats among them, a checkpoint midway', () => {
    const params = { ...TOOL_LOOP_DEFAULTS, max_tracked_calls: 300 };
    const calls: [string, string][] = [];
    for (let i = 0; i < 400; i++) calls.push([`T${i % 5}`, String(i)], [`T${i % 5}`, String(i % 37)]);
    compare(toEvents(calls), params, (i) => i === 250 || i === 600);
  });
});

describe('tool-loop state stays bounded', () => {
  it('100k distinct (tool, args) pairs: at most max_tracked_calls pairs and cycle_max_period steps kept', () => {
    const m = eventMaker('run-big');
    for (const max of [TOOL_LOOP_DEFAULTS.max_tracked_calls, 10_000]) {
      const params = { ...TOOL_LOOP_DEFAULTS, max_tracked_calls: max };
      let state = initialToolLoopState();
      for (let i = 0; i < 100_000; i++) state = toolLoop(state, m.tool(`T${i % 3}`, `args-${i}`), { params, now: 0 }).state;
      expect(state.counts).toHaveLength(max);
      expect(state.calls).toHaveLength(2 * max);
      expect(state.tracked_calls).toBe(max);
      expect(state.counts_overflowed).toBe(true);
      expect(state.recent).toHaveLength(params.cycle_max_period);
      expect(state.match).toHaveLength(2 * (params.cycle_max_period - 1));
    }
  });

  it('the state is updated in place and returned (the caller hands it over)', () => {
    const m = eventMaker();
    const s0 = initialToolLoopState();
    const r = toolLoop(s0, m.tool('A', 'x'), { params: TOOL_LOOP_DEFAULTS, now: 0 });
    expect(r.state).toBe(s0);
    expect(s0.steps).toBe(1);
  });
});
