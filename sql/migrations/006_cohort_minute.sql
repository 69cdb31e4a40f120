-- Per-cohort, per-minute rollup (SPEC §5): spend, tokens, calls, errors and judge-score moments,
-- keyed by (minute, agent_id, tenant_id, user_id, model, model_version, prompt_hash).
--
-- A VIEW over `spans FINAL` for the same reason as `runs`: exact under duplicates, replays and
-- crash-resume by construction, where an insert-time rollup (SummingMergeTree/AggregatingMergeTree
-- fed by a materialized view) adds a re-delivered event twice. Sums are of integers (cost in
-- 1e-9 usd, scores in 1e-6), so the result does not depend on how parts were merged.
--
-- `model` is the LLM's for llm_call rows and '' for other kinds (tool calls, judge scores); sum
-- over it to get a cohort without the model split. Judge mean = judge_score_sum / judge_count;
-- variance = judge_score_sumsq / judge_count - mean².
CREATE VIEW IF NOT EXISTS cohort_minute AS
SELECT
    intDiv(ts_ms, 60000) * 60000 AS minute_ms,
    toDateTime(intDiv(minute_ms, 1000), 'UTC') AS minute,
    agent_id,
    tenant_id,
    user_id,
    model,
    model_version,
    prompt_hash,
    count() AS events,
    countIf(kind = 'run_start') AS runs_started,
    countIf(kind = 'run_end') AS runs_ended,
    countIf(kind = 'run_end' AND run_status = 'aborted') AS runs_aborted,
    countIf(kind = 'llm_call') AS llm_calls,
    countIf(kind = 'tool_call') AS tool_calls,
    countIf((kind = 'tool_call' AND tool_status IN ('error', 'timeout')) OR (kind = 'run_end' AND run_status IN ('error', 'timeout'))) AS errors,
    sum(input_tokens) AS input_tokens,
    sum(output_tokens) AS output_tokens,
    sum(cached_tokens) AS cached_tokens,
    sum(cost_nusd) AS cost_nusd,
    cost_nusd / 1000000000 AS cost_usd,
    countIf(kind = 'judge_score') AS judge_count,
    sumIf(judge_score_micro, kind = 'judge_score') / 1000000 AS judge_score_sum,
    sumIf(judge_score_micro * judge_score_micro, kind = 'judge_score') / 1000000000000 AS judge_score_sumsq
FROM spans FINAL
GROUP BY minute_ms, agent_id, tenant_id, user_id, model, model_version, prompt_hash;
