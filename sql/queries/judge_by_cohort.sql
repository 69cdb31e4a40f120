-- Question: how do judge scores move over time per cohort (agent × model_version × prompt_hash),
-- hour by hour (UTC)? Mean and population standard deviation of the scores (0..1).
-- Source: cohort_minute judge moments, summed over users, tenants and models.
SELECT
    toStartOfHour(minute) AS hour,
    agent_id,
    model_version,
    prompt_hash,
    sum(judge_count) AS scores,
    sum(judge_score_sum) / scores AS mean_score,
    sqrt(greatest(sum(judge_score_sumsq) / scores - mean_score * mean_score, 0)) AS stddev_score
FROM cohort_minute
WHERE judge_count > 0
GROUP BY hour, agent_id, model_version, prompt_hash
ORDER BY hour, agent_id, model_version, prompt_hash
