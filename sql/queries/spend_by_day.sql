-- Question: how much did each tenant, user and model spend per day (UTC), in usd and tokens?
-- Source: cohort_minute (exact under replays). Rows with model '' are non-LLM events (no spend);
-- they are filtered on `model`, not `llm_calls`: that name is the SELECT's sum() alias, which
-- ClickHouse resolves first, and an aggregate in WHERE is an error.
SELECT
    toDate(minute) AS day,
    tenant_id,
    user_id,
    model,
    sum(cost_nusd) / 1000000000 AS cost_usd,
    sum(input_tokens) AS input_tokens,
    sum(output_tokens) AS output_tokens,
    sum(llm_calls) AS llm_calls
FROM cohort_minute
WHERE model != ''
GROUP BY day, tenant_id, user_id, model
ORDER BY day, cost_usd DESC, tenant_id, user_id, model
