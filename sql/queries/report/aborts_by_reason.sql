-- Question: which detectors and rules aborted runs (or other scopes) since {since_ms}, how often,
-- and on how many distinct scopes? Operators' aborts appear under their own detector.
-- Source: control_commands, the audit trail of every command issued.
-- Parameters: since_ms (epoch ms).
SELECT
    reason_detector AS detector,
    reason_rule AS rule,
    count() AS aborts,
    uniqExact(scope_kind, scope_id) AS scopes,
    max(issued_at_ms) AS last_at_ms
FROM control_commands FINAL
WHERE action = 'abort' AND issued_at_ms >= {since_ms:UInt64}
GROUP BY detector, rule
ORDER BY aborts DESC, detector, rule
