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

/**
 * One step of the recent window, in the smallest form that says exactly which call it was:
 * - a number i: the tracked pair i, i.e. tool `calls[2i]` with args_hash `calls[2i + 1]`;
 * - a string: that tool, called with unknown args (no args_hash);
 * - a `{ tool, args }` object: a pair that is not tracked (the count table was full, or the pair
 *   shares its count key with a different tracked pair, see `calls`).
 */
export type RecentStep = number | string | { tool: string; args: string };

/**
 * Per-run state, compact because the run table holds one per live run (bench/heap-per-run.ts
 * measures it). Plain JSON data: it checkpoints through JSON.stringify/parse and
 * structuredClone. OWNED BY THE DETECTOR ONCE PASSED IN: `toolLoop` updates it in place and
 * returns it (see `toolLoop`).
 */
export interface ToolLoopState {
  /** Tool calls seen in the run. */
  steps: number;
  /** The last `cycle_max_period` steps, oldest first. */
  recent: RecentStep[];
  /** Consecutive identical (tool, args) calls ending at the last step. */
  identical_streak: number;
  /** Consecutive calls of the same tool (any args) ending at the last step. */
  same_tool_streak: number;
  /**
   * Cycle counters for the periods p = 2 … cycle_max_period: at p − 2 the consecutive steps equal
   * (tool and args) to the step p earlier, at (cycle_max_period − 1) + p − 2 the consecutive steps
   * with the same tool as the step p earlier. Zero below cycle_min_period. Empty (all zero) until
   * the window holds cycle_min_period steps.
   */
  match: number[];
  /**
   * The tracked (tool, args) pairs, flat: pair i is tool `calls[2i]`, args_hash `calls[2i + 1]`,
   * in first-seen order. Pairs are counted by the key `tool \0 args_hash`: a pair whose key
   * equals a tracked pair's key (possible only when a tool name holds a \0) counts with it.
   */
  calls: string[];
  /** counts[i]: times pair i was called. At most `max_tracked_calls` entries. */
  counts: number[];
  tracked_calls: number;
  /** True once a new pair could not be counted because the table was full. */
  counts_overflowed: boolean;
  /** Rules fired, bit i for TOOL_LOOP_RULES[i]. */
  fired: number;
}

/**
 * Shared, frozen empty array for a new state: most runs hold only a few steps, so arrays are
 * replaced by exact-size copies (`concat`) while they are small and only written in place at
 * their final size (or once large, see SCAN_PAIRS). Neither `push` nor `[...a, x]` (which V8
 * builds by pushing) is used on a small array: V8 would leave 16 spare slots in each.
 */
const EMPTY: readonly never[] = Object.freeze([]);

export const initialToolLoopState = (): ToolLoopState => ({
  steps: 0,
  recent: EMPTY as never[],
  identical_streak: 0,
  same_tool_streak: 0,
  match: EMPTY as never[],
  calls: EMPTY as never[],
  counts: EMPTY as never[],
  tracked_calls: 0,
  counts_overflowed: false,
  fired: 0,
});

export interface ToolLoopContext {
  /** As the policy loader checks them (toolLoopParamsSchema and toolLoopParamIssues). */
  params: ToolLoopParams;
  /** Event time (epoch ms) of the event being processed. */
  now: number;
}

/**
 * Up to this many tracked pairs the table is scanned; past it a Map from key to index, kept
 * beside the state (not in it, so the state stays plain data) and rebuilt after a checkpoint,
 * finds a pair in O(1), and the arrays grow in place.
 */
const SCAN_PAIRS = 16;
const pairIndexes = new WeakMap<readonly string[], Map<string, number>>();

/** The key a pair is counted by (as the count table always has been). */
const countKey = (tool: string, args: string): string => `${tool}\u0000${args}`;

/** Same count key: identical pairs, or (only when a tool name holds a \0) pairs whose keys coincide. */
function sameKey(tool: string, args: string, t: string, a: string): boolean {
  if (tool === t) return args === a;
  return tool.length + args.length === t.length + a.length && (tool.includes('\u0000') || t.includes('\u0000')) && countKey(tool, args) === countKey(t, a);
}

/** Index of the tracked pair counted under the key of (tool, args), or -1. */
function findPair(calls: readonly string[], tool: string, args: string): number {
  if (calls.length <= 2 * SCAN_PAIRS) {
    for (let i = 0; i < calls.length; i += 2) if (sameKey(tool, args, calls[i] as string, calls[i + 1] as string)) return i / 2;
    return -1;
  }
  let index = pairIndexes.get(calls);
  if (!index) {
    index = new Map();
    for (let i = 0; i < calls.length; i += 2) index.set(countKey(calls[i] as string, calls[i + 1] as string), i / 2);
    pairIndexes.set(calls, index);
  }
  return index.get(countKey(tool, args)) ?? -1;
}

const toolOf = (calls: readonly string[], r: RecentStep): string => (typeof r === 'number' ? (calls[2 * r] as string) : typeof r === 'string' ? r : r.tool);
const argsOf = (calls: readonly string[], r: RecentStep): string | null => (typeof r === 'number' ? (calls[2 * r + 1] as string) : typeof r === 'string' ? null : r.args);

/** Step `r` is the call (tool, args). Unknown args never equal anything, not even other unknown args. */
function sameCall(calls: readonly string[], r: RecentStep, tool: string, args: string | null): boolean {
  if (args === null || typeof r === 'string') return false;
  return typeof r === 'number' ? calls[2 * r] === tool && calls[2 * r + 1] === args : r.tool === tool && r.args === args;
}

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
 *
 * State ownership: `state` is updated IN PLACE and the same object is returned as the next
 * state (a pure function of the state's value, the event and the params otherwise). A caller
 * hands its state over and keeps only the returned one; to keep a copy (a checkpoint), clone it
 * (JSON or structuredClone) before the next call. The run table does exactly that: one state per
 * run, replaced by the result, cloned by `snapshot()`. Memory per run stays bounded:
 * `cycle_max_period` recent steps and at most `max_tracked_calls` (≤ 10,000) counted pairs.
 */
export function toolLoop(state: ToolLoopState, event: SpanEvent, ctx: ToolLoopContext): DetectorResult<ToolLoopState> {
  if (event.kind !== 'tool_call') return { state, findings: [] };
  const p = ctx.params;
  const s = state;
  const tool = event.tool.name;
  const args = event.tool.args_hash ?? null;

  // Count the pair first: the recent window refers to it by its index.
  let repeats = 0;
  let step: RecentStep = tool;
  if (args !== null) {
    let calls = s.calls;
    const i = findPair(calls, tool, args);
    if (i >= 0) {
      repeats = (s.counts[i] as number) + 1;
      s.counts[i] = repeats;
      step = calls[2 * i] === tool && calls[2 * i + 1] === args ? i : { tool, args };
    } else if (s.tracked_calls < p.max_tracked_calls) {
      const n = s.counts.length;
      if (n < SCAN_PAIRS) {
        s.calls = calls = calls.concat(tool, args);
        s.counts = s.counts.concat(1);
      } else {
        calls.push(tool, args);
        s.counts.push(1);
        pairIndexes.get(calls)?.set(countKey(tool, args), n);
      }
      repeats = 1;
      s.tracked_calls += 1;
      step = n;
    } else {
      s.counts_overflowed = true;
      step = { tool, args };
    }
  }

  const calls = s.calls;
  const recent = s.recent;
  const len = recent.length;
  const prev = recent[len - 1];
  const identical = prev !== undefined && sameCall(calls, prev, tool, args) ? s.identical_streak + 1 : 1;
  const sameTool = prev !== undefined && toolOf(calls, prev) === tool ? s.same_tool_streak + 1 : 1;

  // Cycle counters, against the window before this step. While the window is shorter than every
  // period they are all zero: left empty (most runs make only a few tool calls).
  const width = Math.max(0, p.cycle_max_period - 1);
  if (s.match.length > 0 || len >= p.cycle_min_period) {
    if (s.match.length !== 2 * width) s.match = relayout(s.match, width);
    const match = s.match;
    for (let period = 2; period < p.cycle_min_period && period <= p.cycle_max_period; period++) {
      match[period - 2] = 0;
      match[width + period - 2] = 0;
    }
    for (let period = Math.max(2, p.cycle_min_period); period <= p.cycle_max_period; period++) {
      const back = recent[len - period];
      const c = period - 2;
      const t = width + c;
      match[c] = back !== undefined && sameCall(calls, back, tool, args) ? (match[c] as number) + 1 : 0;
      match[t] = back !== undefined && toolOf(calls, back) === tool ? (match[t] as number) + 1 : 0;
    }
  }

  // The window: shifted in place once full, an exact-size copy while it fills.
  const max = p.cycle_max_period;
  if (len === max && max > 0) {
    recent.copyWithin(0, 1);
    recent[len - 1] = step;
  } else {
    s.recent = len < max ? recent.concat(step) : recent.concat(step).slice(-max);
  }
  s.steps += 1;
  s.identical_streak = identical;
  s.same_tool_streak = sameTool;

  const findings: Finding[] = [];
  if (identical > p.max_identical_consecutive && unfired(s, 'identical_consecutive')) {
    fire(s, findings, event, 'identical_consecutive', identical, p.max_identical_consecutive, { tool, args_hash: args, consecutive: identical });
  }
  // A streak that is entirely identical calls belongs to the rule above, not to these.
  const differing = identical < sameTool;
  if (differing && sameTool > p.max_differing_consecutive_abort && unfired(s, 'differing_consecutive_abort')) {
    fire(s, findings, event, 'differing_consecutive_abort', sameTool, p.max_differing_consecutive_abort, { tool, consecutive: sameTool });
  }
  if (differing && sameTool > p.max_differing_consecutive_warn && unfired(s, 'differing_consecutive_warn')) {
    fire(s, findings, event, 'differing_consecutive_warn', sameTool, p.max_differing_consecutive_warn, { tool, consecutive: sameTool });
  }

  const cycle = findCycle(s, p);
  if (cycle?.identical) {
    if (unfired(s, 'identical_cycle')) fire(s, findings, event, 'identical_cycle', cycle.turns, p.cycle_min_turns, cycleDetails(cycle, s));
  } else if (cycle && unfired(s, 'differing_cycle')) {
    fire(s, findings, event, 'differing_cycle', cycle.turns, p.cycle_min_turns, cycleDetails(cycle, s));
  }

  if (repeats >= p.repeat_warn_at && unfired(s, 'repeated_call')) {
    fire(s, findings, event, 'repeated_call', repeats, p.repeat_warn_at, { tool, args_hash: args, count: repeats, distinct_calls_tracked: s.tracked_calls });
  }

  return { state: s, findings };
}

/** The cycle counters laid out for periods 2 … width + 1, carried over by period from `old`. */
function relayout(old: readonly number[], width: number): number[] {
  const oldWidth = old.length / 2;
  const next = new Array<number>(2 * width).fill(0);
  for (let c = 0; c < Math.min(width, oldWidth); c++) {
    next[c] = old[c] as number;
    next[width + c] = old[oldWidth + c] as number;
  }
  return next;
}

const ruleBit = (rule: ToolLoopRule): number => 1 << TOOL_LOOP_RULES.indexOf(rule);
const unfired = (s: ToolLoopState, rule: ToolLoopRule): boolean => (s.fired & ruleBit(rule)) === 0;

function fire(s: ToolLoopState, findings: Finding[], event: SpanEvent, rule: ToolLoopRule, observed: number, threshold: number, details: Record<string, unknown>): void {
  s.fired |= ruleBit(rule);
  const abort = rule === 'identical_consecutive' || rule === 'differing_consecutive_abort' || rule === 'identical_cycle';
  findings.push(
    runFinding({
      detector: 'tool-loop',
      rule,
      severity: abort ? 'critical' : 'warning',
      event,
      observed,
      threshold,
      details: { step: s.steps, ...details },
    }),
  );
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
  const { recent, calls, match } = s;
  const n = recent.length;
  const last = recent[n - 1];
  if (last === undefined) return undefined;
  const lastTool = toolOf(calls, last);
  const lastArgs = argsOf(calls, last);
  const width = Math.max(0, p.cycle_max_period - 1);
  let byTool: Cycle | undefined;
  for (let period = Math.max(2, p.cycle_min_period); period <= p.cycle_max_period; period++) {
    const need = period * (p.cycle_min_turns - 1);
    if (n < period) break;
    const callRun = match[period - 2] ?? 0;
    if (callRun >= need && someStep(s, n - period, (r) => !sameCall(calls, r, lastTool, lastArgs))) {
      return { period, turns: Math.floor(callRun / period) + 1, identical: true };
    }
    const toolRun = match[width + period - 2] ?? 0;
    if (!byTool && toolRun >= need && someStep(s, n - period, (r) => toolOf(calls, r) !== lastTool)) {
      byTool = { period, turns: Math.floor(toolRun / period) + 1, identical: false };
    }
  }
  return byTool;
}

/** Some step of the window from index `from` on satisfies `test`. */
function someStep(s: ToolLoopState, from: number, test: (r: RecentStep) => boolean): boolean {
  for (let i = from; i < s.recent.length; i++) if (test(s.recent[i] as RecentStep)) return true;
  return false;
}

function cycleDetails(c: Cycle, s: ToolLoopState): Record<string, unknown> {
  return {
    period: c.period,
    turns: c.turns,
    cycle: s.recent.slice(-c.period).map((r) => ({ tool: toolOf(s.calls, r), args_hash: argsOf(s.calls, r) })),
  };
}
