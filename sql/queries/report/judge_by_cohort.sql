-- Question: what is each cohort's (agent × model_version × prompt_hash) judge score since
-- {since_ms}? Number of scores and their mean (0..1), lowest mean first.
-- Source: cohort_minute judge moments (exact integer sums), summed over users, tenants and models.
-- Parameters: since_ms (epoch ms).
SELECT
    agent_id,
    model_version,
    prompt_hash,
    sum(judge_count) AS scores,
    sum(judge_score_sum) / scores AS mean_score
FROM cohort_minute
WHERE judge_count > 0 AND minute_ms >= {since_ms:UInt64}
GROUP BY agent_id, model_version, prompt_hash
ORDER BY mean_score, agent_id, model_version, prompt_hash
