-- Rejected messages, mirroring the DLQ topic agent.spans.dlq (SPEC §6), for analysts.
-- Keyed by the source position: a message re-delivered after a crash collapses onto its row.
CREATE TABLE IF NOT EXISTS dlq_events
(
    -- When it was rejected (wall clock, epoch ms): a bad message may have no usable event time.
    ts_ms UInt64,
    ts DateTime('UTC') MATERIALIZED toDateTime(intDiv(ts_ms, 1000), 'UTC'),
    reason {{LC:String}},
    message String,
    topic {{LC:String}},
    kafka_partition Int32,
    kafka_offset Int64,
    -- Original bytes, base64 (at most 1 MiB of them; value_truncated = 1 beyond that).
    value_bytes UInt64,
    value_truncated UInt8,
    value_base64 String
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(ts)
ORDER BY (topic, kafka_partition, kafka_offset)
{{TTL:ts + INTERVAL 30 DAY}};
