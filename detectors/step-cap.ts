import { z } from 'zod';
import type { Finding } from '../src/contracts/finding.ts';
import type { SpanEvent } from '../src/contracts/span.ts';
import { flag, positiveAmount, positiveInt, ratio, strictSection } from '../src/policy/fields.ts';
import { priceLlmCall, type PriceTable } from '../src/pricing/price-table.ts';
import type { DetectorResult } from './lib/detector-result.ts';
import { runFinding } from './lib/run-finding.ts';

/** Policy section `step_cap`: per-run caps (SPEC §3.1). */
export const stepCapParamsSchema = strictSection({
  enabled: flag(),
  max_llm_calls: positiveInt(),
  max_tool_calls: positiveInt(),
  /** input + output tokens of every LLM call of the run. */
  max_tokens: positiveInt(),
  max_cost_usd: positiveAmount('usd'),
  /** `warn` once a count reaches this share of its cap. */
  warn_ratio: ratio(),
});
export type StepCapParams = z.infer<typeof stepCapParamsSchema>;

export const STEP_CAP_DEFAULTS: StepCapParams = {
  enabled: true,
  max_llm_calls: 30,
  max_tool_calls: 100,
  max_tokens: 200_000,
  max_cost_usd: 5,
  warn_ratio: 0.75,
};

/**
 * Effective caps of one run: the policy's, tightened by the run's `limits` (which may be 0).
 * Separate from the params because a run_start can arrive after the run's first steps.
 */
export type StepCaps = Pick<StepCapParams, 'max_llm_calls' | 'max_tool_calls' | 'max_tokens' | 'max_cost_usd' | 'warn_ratio'>;

export const STEP_CAP_METRICS = ['llm_calls', 'tool_calls', 'tokens', 'cost_usd'] as const;
export type StepCapMetric = (typeof STEP_CAP_METRICS)[number];
const CAP_OF = {
  llm_calls: 'max_llm_calls',
  tool_calls: 'max_tool_calls',
  tokens: 'max_tokens',
  cost_usd: 'max_cost_usd',
} as const satisfies Record<StepCapMetric, keyof StepCaps>;

/** `<metric>_warn`, `<metric>_abort`, and `unpriced_model` (info: cost cap cannot be enforced). */
export type StepCapRule = `${StepCapMetric}_${'warn' | 'abort'}` | 'unpriced_model';

export interface StepCapState {
  llm_calls: number;
  tool_calls: number;
  /** input + output tokens. */
  tokens: number;
  cost_usd: number;
  /** LLM calls whose model the price table does not know (counted at $0). */
  unpriced_llm_calls: number;
  /** Rules that already fired: each fires at most once per run. */
  fired: readonly StepCapRule[];
}

/** No rule fired yet: one frozen array for every run (a state's `fired` is replaced, never mutated). */
const NONE_FIRED: readonly StepCapRule[] = Object.freeze([]);

export const initialStepCapState = (): StepCapState => ({
  llm_calls: 0,
  tool_calls: 0,
  tokens: 0,
  cost_usd: 0,
  unpriced_llm_calls: 0,
  fired: NONE_FIRED,
});

export interface StepCapContext {
  caps: StepCaps;
  prices: PriceTable;
  /** Event time (epoch ms) of the event being processed. */
  now: number;
}

/**
 * Step-cap detector (SPEC §3.1). Counts the run's LLM calls, tool calls, tokens (input + output)
 * and cost (usd) and compares each with its cap after every event:
 * - `<metric>_warn` (warning) once, on the first event where count ≥ warn_ratio × cap;
 * - `<metric>_abort` (critical) once, on the first event where count ≥ cap — i.e. the step that
 *   REACHES the cap (the 30th LLM call under a cap of 30) triggers the abort, so the guard blocks
 *   the 31st and no step beyond the cap runs. Tokens and cost can overshoot within that one step.
 * When one step crosses both thresholds of a cap, only the abort is emitted (the warn is marked
 * fired: a warning in the same instant as the abort says nothing more). A cap of 0 (a run's
 * `limits` may say so) aborts at the first step of its kind. A `run_start` counts nothing but is
 * evaluated too: when it arrives late with tighter limits, a run already past them aborts at once.
 */
export function stepCap(state: StepCapState, event: SpanEvent, ctx: StepCapContext): DetectorResult<StepCapState> {
  const findings: Finding[] = [];
  let next: StepCapState;
  // The next state's `fired`, made only when this event fires a rule (most fire none).
  let fired: StepCapRule[] | undefined;
  switch (event.kind) {
    case 'llm_call': {
      const price = priceLlmCall(event.llm, ctx.prices);
      next = {
        ...state,
        llm_calls: state.llm_calls + 1,
        tokens: state.tokens + event.llm.input_tokens + event.llm.output_tokens,
        cost_usd: tidy(state.cost_usd + price.costUsd),
        unpriced_llm_calls: state.unpriced_llm_calls + (price.known ? 0 : 1),
      };
      if (!price.known && !hasFired(state, fired, 'unpriced_model')) {
        fired = markFired(state, fired, 'unpriced_model');
        findings.push(
          runFinding({
            detector: 'step-cap',
            rule: 'unpriced_model',
            severity: 'info',
            event,
            observed: next.unpriced_llm_calls,
            threshold: 0,
            details: {
              model: event.llm.model,
              message: `model "${event.llm.model}" is not in the price table and the event has no cost_usd: its cost counts as $0, so the cost cap is not enforced for it; add it under pricing.models`,
            },
          }),
        );
      }
      break;
    }
    case 'tool_call':
      next = { ...state, tool_calls: state.tool_calls + 1 };
      break;
    case 'run_start':
      next = state;
      break;
    case 'judge_score':
    case 'run_end':
    case 'side_effect':
      return { state, findings };
  }

  for (const metric of STEP_CAP_METRICS) {
    const cap = ctx.caps[CAP_OF[metric]];
    const observed = next[metric];
    // `observed > 0`: a cap of 0 is reached by the first step, not by the empty run.
    if (observed <= 0) continue;
    const abortRule: StepCapRule = `${metric}_abort`;
    const warnRule: StepCapRule = `${metric}_warn`;
    if (observed >= cap && !hasFired(state, fired, abortRule)) {
      fired = markFired(state, fired, abortRule);
      fired = markFired(state, fired, warnRule);
      findings.push(capFinding(event, next, ctx.caps, metric, 'abort', observed, cap));
    } else if (reachesWarn(observed, ctx.caps.warn_ratio * cap) && !hasFired(state, fired, warnRule)) {
      fired = markFired(state, fired, warnRule);
      findings.push(capFinding(event, next, ctx.caps, metric, 'warn', observed, tidy(ctx.caps.warn_ratio * cap)));
    }
  }
  if (fired !== undefined) next = { ...next, fired };
  return { state: next, findings };
}

const hasFired = (state: StepCapState, fired: readonly StepCapRule[] | undefined, rule: StepCapRule): boolean =>
  (fired ?? state.fired).includes(rule);

/** The next state's `fired` with `rule` in it: exact-size copies (rules fire rarely; `push` would over-allocate). */
function markFired(state: StepCapState, fired: StepCapRule[] | undefined, rule: StepCapRule): StepCapRule[] {
  const out = fired ?? state.fired;
  return out.includes(rule) ? (fired ?? out.slice()) : out.concat(rule);
}

/**
 * Rounds to 15 significant digits, the precision a double holds exactly in decimal. Binary
 * floating point drifts below decimal values ($0.10 × 50 sums to 4.999999999999998, 0.55 × 100 is
 * 55.00000000000001); without this a run would reach its cap or warn share and never fire.
 */
const tidy = (x: number): number => Number(x.toPrecision(15));

/**
 * `observed >= tidy(share)`, without the costly decimal round trip when `observed` is plainly
 * below: tidy moves a normal double by less than 1e-14 of itself, so below share × (1 − 1e-12)
 * the answer is no either way (subnormal shares, where that does not hold, take the exact path).
 */
const reachesWarn = (observed: number, share: number): boolean =>
  share > 1e-300 && observed < share * (1 - 1e-12) ? false : observed >= tidy(share);

function capFinding(
  event: SpanEvent,
  s: StepCapState,
  caps: StepCaps,
  metric: StepCapMetric,
  level: 'warn' | 'abort',
  observed: number,
  threshold: number,
): Finding {
  const cap = caps[CAP_OF[metric]];
  return runFinding({
    detector: 'step-cap',
    rule: `${metric}_${level}`,
    severity: level === 'abort' ? 'critical' : 'warning',
    event,
    observed,
    threshold,
    details: {
      metric,
      cap,
      warn_ratio: caps.warn_ratio,
      share_of_cap: cap > 0 ? observed / cap : null,
      triggered_by: event.kind,
      counts: { llm_calls: s.llm_calls, tool_calls: s.tool_calls, tokens: s.tokens, cost_usd: s.cost_usd },
      ...(s.unpriced_llm_calls > 0 ? { unpriced_llm_calls: s.unpriced_llm_calls } : {}),
    },
  });
}
