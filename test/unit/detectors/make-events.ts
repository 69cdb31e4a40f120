import { SPAN_SCHEMA_VERSION, type SpanEvent, type SpanLimits, type SpanOf } from '../../../src/contracts/span.ts';

/** Builders of valid span events for detector tests: one run, ts stepping by 1 s. */
export function eventMaker(runId = 'run-1', agentId = 'agent-a', startMs = 1_700_000_000_000) {
  let seq = 0;
  const base = () => {
    seq += 1;
    return {
      schema: SPAN_SCHEMA_VERSION,
      event_id: `${runId}-e${seq}`,
      ts: startMs + seq * 1000,
      run_id: runId,
      span_id: `s${seq}`,
      agent_id: agentId,
      tenant_id: 'tenant-1',
      user_id: 'user-1',
    } as const;
  };
  return {
    runStart: (limits?: SpanLimits): SpanOf<'run_start'> => ({ ...base(), kind: 'run_start', ...(limits ? { limits } : {}) }),
    llm: (input = 100, output = 50, extra: { model?: string; cost_usd?: number; cached_tokens?: number } = {}): SpanOf<'llm_call'> => ({
      ...base(),
      kind: 'llm_call',
      llm: { model: extra.model ?? 'gpt-4o', input_tokens: input, output_tokens: output, ...withoutModel(extra) },
    }),
    tool: (name: string, argsHash?: string): SpanOf<'tool_call'> => ({
      ...base(),
      kind: 'tool_call',
      tool: { name, status: 'ok', ...(argsHash === undefined ? {} : { args_hash: argsHash }) },
    }),
    runEnd: (): SpanOf<'run_end'> => ({ ...base(), kind: 'run_end', status: 'ok' }),
    judge: (score: number): SpanEvent => ({ ...base(), kind: 'judge_score', judge: { score } }),
  };
}

function withoutModel(e: { model?: string; cost_usd?: number; cached_tokens?: number }) {
  const out: { cost_usd?: number; cached_tokens?: number } = {};
  if (e.cost_usd !== undefined) out.cost_usd = e.cost_usd;
  if (e.cached_tokens !== undefined) out.cached_tokens = e.cached_tokens;
  return out;
}
