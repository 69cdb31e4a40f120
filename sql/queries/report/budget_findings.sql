-- Question: which budget thresholds fired this month (UTC, from {month_start_ms}), per scope? The
-- highest rule per tenant or user (monthly_50 / monthly_75 / monthly_100) and when it last fired.
-- Source: findings of the budget detector (written by `start`'s budgets stage and `budgets check`).
-- Parameters: month_start_ms (epoch ms).
SELECT
    scope_kind,
    scope_id,
    groupArray(rule) AS rules,
    max(ts_ms) AS last_ms
FROM
(
    SELECT scope_kind, scope_id, rule, ts_ms
    FROM findings FINAL
    WHERE detector = 'budget' AND ts_ms >= {month_start_ms:UInt64} AND scope_kind IN ('tenant', 'user')
    ORDER BY ts_ms
)
GROUP BY scope_kind, scope_id
ORDER BY scope_kind, scope_id
