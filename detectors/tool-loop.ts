import { z } from 'zod';
import type { Finding } from '../src/contracts/finding.ts';
import type { SpanEvent } from '../src/contracts/span.ts';
import { flag, positiveInt, strictSection } from '../src/policy/fields.ts';
import type { DetectorResult } from './lib/detector-result.ts';
import { runFinding } from './lib/run-finding.ts';

/** Longest cycle period the detector can track: bounds the ring of recent steps. */
export const MAX_CYCLE_PERIOD = 8;

/** Policy section `tool_loop` (SPEC §3.2). "More than N in a row": the (N+1)th call fires. */
export const toolLoopParamsSchema = strictSection({
  enabled: flag(),
  /** Same tool + same args_hash more than this many times in a row → abort. */
  max_identical_consecutive: positiveInt(),
  /** Same tool, differing args, more than this many times in a row → warn (pagination is legitimate). */
  max_differing_consecutive_warn: positiveInt(),
  /** … and more than this many → abort. */
  max_differing_consecutive_abort: positiveInt(),
  /** Cycle periods searched (steps per turn), e.g. 2 for A→B→A→B. */
  cycle_min_period: z
    .number()
    .int('must be an integer')
    .min(2, 'must be at least 2 (period 1 is the consecutive rule)')
    .max(MAX_CYCLE_PERIOD, `must be at most ${MAX_CYCLE_PERIOD}`),
  cycle_max_period: z.number().int('must be an integer').max(MAX_CYCLE_PERIOD, `must be at most ${MAX_CYCLE_PERIOD}`),
  /** Full turns of a cycle before it fires. */
  cycle_min_turns: z.number().int('must be an integer').min(2, 'must be at least 2'),
  /** The same (tool, args) this many times anywhere in the run → warn. */
  repeat_warn_at: z.number().int('must be an integer').min(2, 'must be at least 2'),
  /** Distinct (tool, args) pairs counted per run; past it new pairs are not counted (bounded state). */
  max_tracked_calls: z.number().int('must be an integer').min(1, 'must be at least 1').max(10_000, 'must be at most 10000'),
});
export type ToolLoopParams = z.infer<typeof toolLoopParamsSchema>;

export const TOOL_LOOP_DEFAULTS: ToolLoopParams = {
  enabled: true,
  max_identical_consecutive: 5,
  max_differing_consecutive_warn: 5,
  max_differing_consecutive_abort: 15,
  cycle_min_period: 2,
  cycle_max_period: 4,
  cycle_min_turns: 3,
  repeat_warn_at: 3,
  max_tracked_calls: 256,
};

/** A cross-field problem: `path` is the field to change, `fields` every field it involves. */
export interface ParamIssue {
  path: keyof ToolLoopParams;
  fields: readonly (keyof ToolLoopParams)[];
  message: string;
}

/** Cross-field checks, with the path of the field to change. */
export function toolLoopParamIssues(p: ToolLoopParams): ParamIssue[] {
  const issues: ParamIssue[] = [];
  if (p.max_differing_consecutive_abort < p.max_differing_consecutive_warn) {
    issues.push({
      path: 'max_differing_consecutive_abort',
      fields: ['max_differing_consecutive_abort', 'max_differing_consecutive_warn'],
      message: `must be at least max_differing_consecutive_warn (${p.max_differing_consecutive_warn}): raise it or lower the warn limit; got ${p.max_differing_consecutive_abort}`,
    });
  }
  if (p.cycle_max_period < p.cycle_min_period) {
    issues.push({
      path: 'cycle_max_period',
      fields: ['cycle_max_period', 'cycle_min_period'],
      message: `must be at least cycle_min_period (${p.cycle_min_period}): raise it or lower cycle_min_period; got ${p.cycle_max_period}`,
    });
  }
  return issues;
}

export const TOOL_LOOP_RULES = [
  'identical_consecutive',
  'differing_consecutive_abort',
  'differing_consecutive_warn',
  'identical_cycle',
  'differing_cycle',
  'repeated_call',
] as const;
export type ToolLoopRule = (typeof TOOL_LOOP_RULES)[number];

/** One tool step; `args` null when the event had no args_hash ("unknown args"). */
export interface ToolStep {
  tool: string;
  args: string | null;
}

export interface ToolLoopState {
  /** Tool calls seen in the run. */
  steps: number;
  /** The last `cycle_max_period` steps, oldest first. */
  recent: readonly ToolStep[];
  /** Consecutive identical (tool, args) calls ending at the last step. */
  identical_streak: number;
  /** Consecutive calls of the same tool (any args) ending at the last step. */
  same_tool_streak: number;
  /** Index p: consecutive steps equal (tool and args) to the step p earlier. */
  call_match: readonly number[];
  /** Index p: consecutive steps with the same tool as the step p earlier. */
  tool_match: readonly number[];
  /** `tool \0 args_hash` → times called. At most `max_tracked_calls` keys. */
  counts: Readonly<Record<string, number>>;
  tracked_calls: number;
  /** True once a new pair could not be counted because the map was full. */
  counts_overflowed: boolean;
  fired: readonly ToolLoopRule[];
}

export const initialToolLoopState = (): ToolLoopState => ({
  steps: 0,
  recent: [],
  identical_streak: 0,
  same_tool_streak: 0,
  call_match: [],
  tool_match: [],
  counts: {},
  tracked_calls: 0,
  counts_overflowed: false,
  fired: [],
});

export interface ToolLoopContext {
  params: ToolLoopParams;
  /** Event time (epoch ms) of the event being processed. */
  now: number;
}

/** Unknown args never equal anything, not even other unknown args. */
const sameCall = (a: ToolStep, b: ToolStep): boolean => a.args !== null && a.tool === b.tool && a.args === b.args;

/**
 * Tool-loop detector (SPEC §3.2), over `tool_call` events in arrival order. Each rule fires at
 * most once per run; the finding names the tool(s), the counts and the limit:
 * - `identical_consecutive` (abort): same tool + args_hash more than `max_identical_consecutive`
 *   times in a row — with 5, the 6th identical call aborts and the guard blocks the 7th;
 * - `differing_consecutive_warn` / `_abort`: the same tool more than the warn / abort limit in a
 *   row with args not all identical (pagination, search refinement);
 * - `identical_cycle` (abort): the last period × cycle_min_turns steps repeat with a period of
 *   2..4 identical (tool, args) steps, e.g. A(x)→B(y)→A(x)→B(y)→A(x)→B(y) aborts at the 6th;
 * - `differing_cycle` (warn): the same tool sequence repeats but the args do not;
 * - `repeated_call` (warn): the same (tool, args) called `repeat_warn_at` times anywhere.
 * A missing args_hash means "unknown args": such a call is never identical to another (so it
 * never feeds the identical, identical-cycle or repeat rules), but it still counts towards the
 * same-tool streak and tool-sequence cycles, so an unhashed loop is still warned and then aborted
 * by `differing_consecutive_abort`.
 */
export function toolLoop(state: ToolLoopState, event: SpanEvent, ctx: ToolLoopContext): DetectorResult<ToolLoopState> {
  if (event.kind !== 'tool_call') return { state, findings: [] };
  const p = ctx.params;
  const step: ToolStep = { tool: event.tool.name, args: event.tool.args_hash ?? null };
  const prev = state.recent[state.recent.length - 1];

  const identical = prev !== undefined && sameCall(prev, step) ? state.identical_streak + 1 : 1;
  const sameTool = prev !== undefined && prev.tool === step.tool ? state.same_tool_streak + 1 : 1;

  // Dense arrays indexed by period (0 below cycle_min_period) so the state checkpoints as JSON.
  const callMatch: number[] = new Array<number>(p.cycle_max_period + 1).fill(0);
  const toolMatch: number[] = new Array<number>(p.cycle_max_period + 1).fill(0);
  for (let period = p.cycle_min_period; period <= p.cycle_max_period; period++) {
    const back = state.recent[state.recent.length - period];
    callMatch[period] = back !== undefined && sameCall(back, step) ? (state.call_match[period] ?? 0) + 1 : 0;
    toolMatch[period] = back !== undefined && back.tool === step.tool ? (state.tool_match[period] ?? 0) + 1 : 0;
  }
  const recent = [...state.recent, step].slice(-p.cycle_max_period);

  let counts = state.counts;
  let tracked = state.tracked_calls;
  let overflowed = state.counts_overflowed;
  let repeats = 0;
  if (step.args !== null) {
    const key = `${step.tool}\u0000${step.args}`;
    const seen = Object.hasOwn(counts, key) ? (counts[key] ?? 0) : undefined;
    if (seen !== undefined || tracked < p.max_tracked_calls) {
      repeats = (seen ?? 0) + 1;
      counts = { ...counts, [key]: repeats };
      if (seen === undefined) tracked += 1;
    } else overflowed = true;
  }

  const next: ToolLoopState = {
    steps: state.steps + 1,
    recent,
    identical_streak: identical,
    same_tool_streak: sameTool,
    call_match: callMatch,
    tool_match: toolMatch,
    counts,
    tracked_calls: tracked,
    counts_overflowed: overflowed,
    fired: state.fired,
  };

  const fired = new Set(state.fired);
  const findings: Finding[] = [];
  const fire = (rule: ToolLoopRule, observed: number, threshold: number, details: Record<string, unknown>) => {
    if (fired.has(rule)) return;
    fired.add(rule);
    const abort = rule === 'identical_consecutive' || rule === 'differing_consecutive_abort' || rule === 'identical_cycle';
    findings.push(
      runFinding({
        detector: 'tool-loop',
        rule,
        severity: abort ? 'critical' : 'warning',
        event,
        observed,
        threshold,
        details: { step: next.steps, ...details },
      }),
    );
  };
  const call = { tool: step.tool, args_hash: step.args };

  if (identical > p.max_identical_consecutive) {
    fire('identical_consecutive', identical, p.max_identical_consecutive, { ...call, consecutive: identical });
  }
  // A streak that is entirely identical calls belongs to the rule above, not to these.
  const differing = identical < sameTool;
  if (differing && sameTool > p.max_differing_consecutive_abort) {
    fire('differing_consecutive_abort', sameTool, p.max_differing_consecutive_abort, { tool: step.tool, consecutive: sameTool });
  }
  if (differing && sameTool > p.max_differing_consecutive_warn) {
    fire('differing_consecutive_warn', sameTool, p.max_differing_consecutive_warn, { tool: step.tool, consecutive: sameTool });
  }

  const cycle = findCycle(next, p);
  if (cycle?.identical) {
    fire('identical_cycle', cycle.turns, p.cycle_min_turns, cycleDetails(cycle, recent));
  } else if (cycle) {
    fire('differing_cycle', cycle.turns, p.cycle_min_turns, cycleDetails(cycle, recent));
  }

  if (repeats >= p.repeat_warn_at) {
    fire('repeated_call', repeats, p.repeat_warn_at, { ...call, count: repeats, distinct_calls_tracked: tracked });
  }

  return { state: fired.size === state.fired.length ? next : { ...next, fired: [...fired] }, findings };
}

interface Cycle {
  period: number;
  /** Full turns completed, ≥ cycle_min_turns. */
  turns: number;
  identical: boolean;
}

/**
 * The shortest period whose last period × min_turns steps repeat. Identical (tool, args)
 * repetition is preferred over tool-name-only repetition. A "cycle" whose turn is one repeated
 * step (A A A …) is period 1 and left to the consecutive rules.
 */
function findCycle(s: ToolLoopState, p: ToolLoopParams): Cycle | undefined {
  const last = s.recent[s.recent.length - 1];
  if (!last) return undefined;
  let byTool: Cycle | undefined;
  for (let period = p.cycle_min_period; period <= p.cycle_max_period; period++) {
    const need = period * (p.cycle_min_turns - 1);
    const turn = s.recent.slice(-period);
    if (turn.length < period) break;
    const callRun = s.call_match[period] ?? 0;
    if (callRun >= need && turn.some((x) => !sameCall(x, last))) {
      return { period, turns: Math.floor(callRun / period) + 1, identical: true };
    }
    const toolRun = s.tool_match[period] ?? 0;
    if (!byTool && toolRun >= need && turn.some((x) => x.tool !== last.tool)) {
      byTool = { period, turns: Math.floor(toolRun / period) + 1, identical: false };
    }
  }
  return byTool;
}

function cycleDetails(c: Cycle, recent: readonly ToolStep[]): Record<string, unknown> {
  return {
    period: c.period,
    turns: c.turns,
    cycle: recent.slice(-c.period).map((x) => ({ tool: x.tool, args_hash: x.args })),
  };
}
