-- Question: which runs were aborted, why, and what did they cost? The investigation queue, newest
-- first: one row per aborted run with the rule, the numbers behind it and the run's totals.
-- Source: control_commands (audit trail) joined to the runs view (exact under replays).
SELECT
    a.run_id AS run_id,
    a.first_abort_ms AS aborted_at_ms,
    a.detector AS detector,
    a.rule AS rule,
    a.observed AS observed,
    a.threshold AS threshold,
    r.agent_id AS agent_id,
    r.tenant_id AS tenant_id,
    r.user_id AS user_id,
    r.llm_calls AS llm_calls,
    r.tool_calls AS tool_calls,
    r.tokens AS tokens,
    r.cost_usd AS cost_usd,
    r.status AS status
FROM
(
    -- The first abort of each run (a run may trip several rules; the first one stopped it).
    SELECT
        scope_id AS run_id,
        min(issued_at_ms) AS first_abort_ms,
        argMin(reason_detector, (issued_at_ms, command_id)) AS detector,
        argMin(reason_rule, (issued_at_ms, command_id)) AS rule,
        argMin(reason_observed, (issued_at_ms, command_id)) AS observed,
        argMin(reason_threshold, (issued_at_ms, command_id)) AS threshold
    FROM control_commands FINAL
    WHERE action = 'abort' AND scope_kind = 'run'
    GROUP BY scope_id
) AS a
ANY LEFT JOIN
(
    SELECT run_id, agent_id, tenant_id, user_id, llm_calls, tool_calls, tokens, cost_usd, status
    FROM runs
) AS r USING (run_id)
ORDER BY aborted_at_ms DESC, run_id
LIMIT 200
