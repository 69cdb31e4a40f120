import type { SpanEventInput } from '../../src/contracts/span.ts';

export const LOOP_AGENT = { agentId: 'bench-agent', tenantId: 'bench-tenant', userId: 'bench-user' } as const;

/** The identical tool call that repeats; the 6th in a row trips tool-loop `identical_consecutive`. */
const LOOP_CALLS = 6;

/**
 * A looping run as an agent stuck on one tool would send it: run_start, then an LLM call and
 * the same `search` call with the same args_hash, six times. `pre` is everything before the
 * 6th tool call; `trigger` is that call, the event whose processing makes the warden abort
 * (SPEC §3.2: more than 5 identical calls in a row). Its `ts` is set when it is sent.
 */
export function loopRun(runId: string, nowMs: number): { pre: SpanEventInput[]; trigger: SpanEventInput } {
  let n = 0;
  const base = () => {
    n++;
    return {
      schema: 'runwarden.span/v1' as const,
      event_id: `${runId}-${n}`,
      ts: nowMs,
      run_id: runId,
      span_id: `${runId}-s${n}`,
      parent_span_id: `${runId}-root`,
      agent_id: LOOP_AGENT.agentId,
      tenant_id: LOOP_AGENT.tenantId,
      user_id: LOOP_AGENT.userId,
      attrs: { model_version: 'v2', env: 'bench' },
    };
  };
  const events: SpanEventInput[] = [{ ...base(), span_id: `${runId}-root`, kind: 'run_start' }];
  for (let k = 0; k < LOOP_CALLS; k++) {
    events.push({ ...base(), kind: 'llm_call', llm: { model: 'gpt-4o-mini', input_tokens: 900, output_tokens: 120 } });
    events.push({ ...base(), kind: 'tool_call', tool: { name: 'search', args_hash: 'same-args', status: 'ok', duration_ms: 120 } });
  }
  const trigger = events.pop() as SpanEventInput;
  return { pre: events, trigger };
}
