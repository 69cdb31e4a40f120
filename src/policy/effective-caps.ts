import type { StepCaps } from '../../detectors/step-cap.ts';
import type { SpanLimits } from '../contracts/span.ts';
import type { AgentPolicy } from './policy-schema.ts';

/**
 * A run's caps: the policy's, tightened by the run_start `limits`. Each limit can only lower
 * its cap (min of the two), never raise it — a producer cannot buy itself more budget.
 */
export function effectiveCaps(resolved: Pick<AgentPolicy, 'step_cap'>, limits?: SpanLimits): StepCaps {
  const p = resolved.step_cap;
  const tighten = (cap: number, limit: number | undefined) => (limit === undefined ? cap : Math.min(cap, limit));
  return {
    max_llm_calls: tighten(p.max_llm_calls, limits?.max_llm_calls),
    max_tool_calls: tighten(p.max_tool_calls, limits?.max_tool_calls),
    max_tokens: tighten(p.max_tokens, limits?.max_tokens),
    max_cost_usd: tighten(p.max_cost_usd, limits?.max_cost_usd),
    warn_ratio: p.warn_ratio,
  };
}
