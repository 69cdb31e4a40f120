-- Question: where did judge scores drift since {since_ms}? One row per cohort and rule: how many
-- findings, when, and the latest recent mean against its reference mean (scores 0..1).
-- Source: findings of the judge-drift detector.
-- Parameters: since_ms (epoch ms).
SELECT
    scope_id AS cohort,
    rule,
    count() AS findings,
    min(ts_ms) AS first_ms,
    max(ts_ms) AS last_ms,
    argMax(observed, ts_ms) AS recent_mean,
    argMax(baseline, ts_ms) AS reference_mean
FROM findings FINAL
WHERE detector = 'judge-drift' AND ts_ms >= {since_ms:UInt64}
GROUP BY cohort, rule
ORDER BY last_ms DESC, cohort, rule
