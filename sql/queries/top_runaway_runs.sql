-- Question: which runs ran away? The 50 costliest runs, with their calls, tokens, duration,
-- how they ended, and how close they came to their own limits (NULL: the agent set none).
-- Source: runs (exact under replays).
SELECT
    run_id,
    agent_id,
    tenant_id,
    user_id,
    cost_usd,
    tokens,
    llm_calls,
    tool_calls,
    errors,
    duration_ms,
    status,
    limit_max_llm_calls,
    limit_max_cost_usd,
    first_ts_ms
FROM runs
ORDER BY cost_usd DESC, tokens DESC, llm_calls + tool_calls DESC, run_id
LIMIT 50
