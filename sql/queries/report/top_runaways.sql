-- Question: which runs ran away since {since_ms}? Runs with at least one abort, costliest first:
-- how many aborts, which rules fired, when the first one came, and what the run cost in the end.
-- Source: control_commands (audit trail) joined to the runs view (exact under replays).
-- Parameters: since_ms (epoch ms, on the abort's issued_at), limit (rows).
SELECT
    a.run_id AS run_id,
    r.agent_id AS agent_id,
    r.tenant_id AS tenant_id,
    r.user_id AS user_id,
    a.aborts AS aborts,
    a.rules AS rules,
    a.first_abort_ms AS first_abort_ms,
    r.llm_calls AS llm_calls,
    r.tool_calls AS tool_calls,
    r.tokens AS tokens,
    r.cost_usd AS cost_usd
FROM
(
    SELECT
        scope_id AS run_id,
        count() AS aborts,
        arraySort(groupUniqArray(concat(reason_detector, '/', reason_rule))) AS rules,
        min(issued_at_ms) AS first_abort_ms
    FROM control_commands FINAL
    WHERE action = 'abort' AND scope_kind = 'run' AND issued_at_ms >= {since_ms:UInt64}
    GROUP BY scope_id
) AS a
ANY LEFT JOIN
(
    SELECT run_id, agent_id, tenant_id, user_id, llm_calls, tool_calls, tokens, cost_usd
    FROM runs
) AS r USING (run_id)
ORDER BY cost_usd DESC, run_id
LIMIT {limit:UInt32}
