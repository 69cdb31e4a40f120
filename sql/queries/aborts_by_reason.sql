-- Question: which detectors and rules abort runs, how often, and how many distinct scopes did they hit?
-- Source: control_commands, the audit trail of every command issued (pipeline and operators).
SELECT
    reason_detector AS detector,
    reason_rule AS rule,
    source,
    count() AS aborts,
    uniqExact(scope_kind, scope_id) AS scopes,
    min(issued_at_ms) AS first_at_ms,
    max(issued_at_ms) AS last_at_ms
FROM control_commands FINAL
WHERE action = 'abort'
GROUP BY detector, rule, source
ORDER BY aborts DESC, detector, rule, source
