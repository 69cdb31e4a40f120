-- Audit trail: every control command issued (SPEC §2), by the pipeline or an operator.
-- command_id is deterministic per finding and action, so a replay collapses onto the same row.
CREATE TABLE IF NOT EXISTS control_commands
(
    command_id String,
    issued_at_ms UInt64,
    issued_at DateTime('UTC') MATERIALIZED toDateTime(intDiv(issued_at_ms, 1000), 'UTC'),
    action {{LC:String}},
    scope_kind {{LC:String}},
    scope_id String,
    reason_detector {{LC:String}},
    reason_rule {{LC:String}},
    reason_observed Float64,
    reason_threshold Float64,
    reason_baseline Nullable(Float64),
    reason_finding_id String,
    reason_note String,
    expires_at_ms Nullable(UInt64),
    throttle_max_concurrent_runs Nullable(UInt64),
    throttle_max_llm_calls_per_minute Nullable(UInt64),
    throttle_delay_ms Nullable(Float64),
    key_id String,
    signature String,
    -- 'pipeline' | 'operator' | 'scheduler', and the operator's name for CLI commands.
    source {{LC:String}},
    operator String
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(issued_at)
ORDER BY command_id;
