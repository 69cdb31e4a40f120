-- Question: which tools do agents loop on? For each tool: how many runs called it with the same
-- arguments (args_hash) 3 times or more, how many such repeated calls there were, the worst
-- repetition seen, and how many of those runs ended aborted.
-- Source: spans (exact under replays) and runs; complements the tool-loop findings.
SELECT
    tool_name,
    uniqExact(run_id) AS looping_runs,
    sum(calls) AS repeated_calls,
    max(calls) AS max_repeats,
    uniqExactIf(run_id, aborted) AS aborted_runs
FROM
(
    SELECT run_id, tool_name, args_hash, count() AS calls
    FROM spans FINAL
    WHERE kind = 'tool_call'
    GROUP BY run_id, tool_name, args_hash
    HAVING calls >= 3
) AS repeats
ANY LEFT JOIN
(
    SELECT run_id, status = 'aborted' AS aborted FROM runs
) AS ends USING (run_id)
GROUP BY tool_name
ORDER BY looping_runs DESC, repeated_calls DESC, tool_name
