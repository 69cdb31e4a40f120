-- Raw span events (SPEC §1), one row per valid event.
--
-- Conventions for every migration here (see src/store/render-sql.ts):
--   * idempotent: CREATE ... IF NOT EXISTS; each statement ends with `;` at the end of a line;
--   * runs on ClickHouse 18.16 and current releases; `{{LC:T}}` is LowCardinality(T) where the
--     server supports it (19.3+) and T elsewhere, `{{TTL:expr}}` a TTL clause only where supported (19.6+);
--   * times are `*_ms UInt64` epoch milliseconds; the DateTime('UTC') beside them (seconds) is
--     MATERIALIZED from the ms value, drives partitioning and TTL, and is never inserted.
--
-- Exactness (SPEC §5): a re-delivered event (same run_id, event_id) collapses in this
-- ReplacingMergeTree. Merges happen whenever, so everything that reads it uses FINAL.
CREATE TABLE IF NOT EXISTS spans
(
    event_id String,
    ts_ms UInt64,
    ts DateTime('UTC') MATERIALIZED toDateTime(intDiv(ts_ms, 1000), 'UTC'),
    run_id String,
    span_id String,
    parent_span_id String,
    kind {{LC:String}},
    agent_id {{LC:String}},
    tenant_id {{LC:String}},
    user_id String,
    -- attrs as parallel arrays (18.16 has no Map), sorted by key.
    attr_keys Array(String),
    attr_values Array(String),
    -- Cohort attributes copied out of attrs for the rollups ('' when absent).
    model_version {{LC:String}},
    prompt_hash {{LC:String}},
    -- llm_call
    model {{LC:String}},
    input_tokens UInt64,
    output_tokens UInt64,
    cached_tokens UInt64,
    cost_usd Float64,
    cost_priced UInt8,
    latency_ms Float64,
    -- tool_call / side_effect
    tool_name {{LC:String}},
    args_hash String,
    tool_status {{LC:String}},
    tool_duration_ms Float64,
    error_type String,
    tool_sensitive UInt8,
    -- judge_score
    judge_score Nullable(Float64),
    rubric String,
    judge_model String,
    -- run_end
    run_status {{LC:String}},
    -- run_start limits (NULL: not set by the agent)
    limit_max_llm_calls Nullable(UInt64),
    limit_max_tool_calls Nullable(UInt64),
    limit_max_tokens Nullable(UInt64),
    limit_max_cost_usd Nullable(Float64),
    -- Integer forms of the summed floats: sums of integers do not depend on the order rows are
    -- added in, so rollups are bit-identical however parts were merged (cost in 1e-9 usd,
    -- judge scores in 1e-6).
    cost_nusd UInt64 MATERIALIZED toUInt64(round(cost_usd * 1000000000)),
    judge_score_micro UInt64 MATERIALIZED toUInt64(round(ifNull(judge_score, 0) * 1000000)),
    kafka_partition Int32,
    kafka_offset Int64,
    ingested_at_ms UInt64
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(ts)
ORDER BY (run_id, event_id)
{{TTL:ts + INTERVAL 90 DAY}};
