-- One row per run (SPEC §5).
--
-- A VIEW over `spans FINAL`, not a table fed at insert time: it is recomputed from the
-- deduplicated spans on every read, so re-delivered events, replays and a crash mid-batch cannot
-- skew it. That is what makes it exact by construction; a materialized view would count a
-- re-delivered event once per delivery. The price is a scan of spans per read (the spans
-- ORDER BY starts with run_id, so a WHERE run_id = … reads little).
--
-- Columns that share a name with a spans column (agent_id, input_tokens, …) are only ever used
-- inside their own aggregate: ClickHouse resolves aliases before columns, and reusing one inside
-- another aggregate would nest aggregates.
CREATE VIEW IF NOT EXISTS runs AS
SELECT
    run_id,
    -- Constant within a run; min() keeps the choice deterministic if a producer disagrees.
    min(agent_id) AS agent_id,
    min(tenant_id) AS tenant_id,
    min(user_id) AS user_id,
    -- Often only some events carry attrs; max() picks the non-empty value.
    max(model_version) AS model_version,
    max(prompt_hash) AS prompt_hash,
    arraySort(groupUniqArrayIf(model, kind = 'llm_call')) AS models,
    min(ts_ms) AS first_ts_ms,
    max(ts_ms) AS last_ts_ms,
    last_ts_ms - first_ts_ms AS duration_ms,
    toDateTime(intDiv(first_ts_ms, 1000), 'UTC') AS started_at,
    count() AS events,
    countIf(kind = 'llm_call') AS llm_calls,
    countIf(kind = 'tool_call') AS tool_calls,
    countIf(kind = 'tool_call' AND tool_status != 'ok') AS tool_failures,
    countIf(kind = 'tool_call' AND tool_status = 'blocked') AS tool_blocked,
    -- errors: tool calls that failed or timed out, plus a run_end with status error/timeout.
    countIf((kind = 'tool_call' AND tool_status IN ('error', 'timeout')) OR (kind = 'run_end' AND run_status IN ('error', 'timeout'))) AS errors,
    sum(input_tokens) AS input_tokens,
    sum(output_tokens) AS output_tokens,
    sum(cached_tokens) AS cached_tokens,
    input_tokens + output_tokens AS tokens,
    -- Exact integer sum (1e-9 usd), converted once.
    sum(cost_nusd) AS cost_nusd,
    cost_nusd / 1000000000 AS cost_usd,
    countIf(kind = 'judge_score') AS judge_count,
    minIf(judge_score, kind = 'judge_score') AS min_judge_score,
    maxIf(judge_score, kind = 'judge_score') AS max_judge_score,
    if(judge_count = 0, NULL, sumIf(judge_score_micro, kind = 'judge_score') / judge_count / 1000000) AS avg_judge_score,
    countIf(kind = 'run_end') > 0 AS ended,
    -- '' while the run has not ended; the latest run_end wins if an agent sent two.
    if(ended, argMaxIf(run_status, (ts_ms, event_id), kind = 'run_end'), '') AS status,
    maxIf(limit_max_llm_calls, kind = 'run_start') AS limit_max_llm_calls,
    maxIf(limit_max_tool_calls, kind = 'run_start') AS limit_max_tool_calls,
    maxIf(limit_max_tokens, kind = 'run_start') AS limit_max_tokens,
    maxIf(limit_max_cost_usd, kind = 'run_start') AS limit_max_cost_usd
FROM spans FINAL
GROUP BY run_id;
