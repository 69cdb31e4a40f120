-- Question: how much has each tenant and each user spent this month (UTC, from {month_start_ms})?
-- The budget status of `runwarden report` compares it with the policy's monthly limits.
-- Source: spans FINAL, summing the exact integer cost_nusd as the budget check does.
-- Parameters: month_start_ms (epoch ms of the first of the month, 00:00 UTC).
SELECT scope_kind, scope_id, nusd / 1000000000 AS cost_usd
FROM
(
    SELECT 'tenant' AS scope_kind, tenant_id AS scope_id, sum(cost_nusd) AS nusd
    FROM spans FINAL
    WHERE ts_ms >= {month_start_ms:UInt64}
    GROUP BY scope_id
    UNION ALL
    SELECT 'user' AS scope_kind, user_id AS scope_id, sum(cost_nusd) AS nusd
    FROM spans FINAL
    WHERE ts_ms >= {month_start_ms:UInt64}
    GROUP BY scope_id
)
ORDER BY scope_kind, cost_usd DESC, scope_id
