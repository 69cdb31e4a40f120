import { cohortId, MISSING_DIM, parseCohortId } from '../contracts/cohort-id.ts';
import type { Scope } from '../contracts/common.ts';

/** Who is taking a step: what the guard matches command scopes against. */
export interface StepContext {
  runId: string;
  agentId?: string;
  tenantId?: string;
  userId?: string;
  /** Cohort attributes (model_version, plan_tier, …) for cohort-scoped commands. */
  attrs?: Record<string, string>;
  /**
   * The model the step calls (`gpt-4o`), as in the span's `llm.model`: cost-spike throttles a
   * spend cohort that includes it (`…,model=gpt-4o,…`). Falls back to `attrs.model`.
   */
  model?: string;
  /**
   * What the step is. Only `llm_call` steps count against `max_llm_calls_per_minute`; a step
   * without a kind is counted as an LLM call (the conservative reading).
   */
  step?: 'llm_call' | 'tool_call' | 'side_effect';
}

export { cohortId, parseCohortId };

/**
 * True when a command with this scope applies to a step taken in `ctx`. A cohort scope matches
 * when every one of its dimensions has the step's value; a dimension the step does not give has
 * the value `(none)`, as on the warden's side (an event without the attribute).
 */
export function scopeMatches(scope: Scope, ctx: StepContext): boolean {
  switch (scope.kind) {
    case 'global':
      return true;
    case 'run':
      return scope.id === ctx.runId;
    case 'agent':
      return scope.id === ctx.agentId;
    case 'tenant':
      return scope.id === ctx.tenantId;
    case 'user':
      return scope.id === ctx.userId;
    case 'cohort': {
      const dims = parseCohortId(scope.id);
      const have: Record<string, string | undefined> = {
        ...ctx.attrs,
        model: ctx.model ?? ctx.attrs?.['model'],
        run_id: ctx.runId,
        agent_id: ctx.agentId,
        tenant_id: ctx.tenantId,
        user_id: ctx.userId,
      };
      const keys = Object.keys(dims);
      return keys.length > 0 && keys.every((k) => (have[k] ?? MISSING_DIM) === dims[k]);
    }
  }
}
