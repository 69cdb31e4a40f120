-- Question: why are messages rejected? Dead-lettered messages per day (UTC), topic and reason.
-- Source: dlq_events, mirroring the agent.spans.dlq topic.
SELECT
    toDate(ts) AS day,
    topic,
    reason,
    count() AS messages,
    sum(value_bytes) AS bytes
FROM dlq_events FINAL
GROUP BY day, topic, reason
ORDER BY day, messages DESC, topic, reason
