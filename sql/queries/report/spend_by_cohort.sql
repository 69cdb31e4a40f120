-- Question: how much did each tenant, user and model spend per day (UTC) since {since_ms}, in usd,
-- LLM calls and tokens? The costliest cohorts of each day first.
-- Source: cohort_minute (exact under replays). Rows with model '' are non-LLM events (no spend).
-- Parameters: since_ms (epoch ms), limit (rows). Runs as-is in clickhouse-client with
-- --param_since_ms=… --param_limit=…; runwarden binds them as literals (ClickHouse 18.16 has no parameters).
SELECT
    toDate(minute) AS day,
    tenant_id,
    user_id,
    model,
    sum(cost_nusd) / 1000000000 AS cost_usd,
    sum(llm_calls) AS llm_calls,
    sum(input_tokens) + sum(output_tokens) AS tokens
FROM cohort_minute
WHERE model != '' AND minute_ms >= {since_ms:UInt64}
GROUP BY day, tenant_id, user_id, model
ORDER BY day DESC, cost_usd DESC, tenant_id, user_id, model
LIMIT {limit:UInt32}
