-- What the detectors saw (SPEC §3). A replay re-emits the same finding_id, which collapses here.
-- Kept without TTL: findings are the record behind every command.
CREATE TABLE IF NOT EXISTS findings
(
    finding_id String,
    ts_ms UInt64,
    ts DateTime('UTC') MATERIALIZED toDateTime(intDiv(ts_ms, 1000), 'UTC'),
    detector {{LC:String}},
    rule {{LC:String}},
    severity {{LC:String}},
    scope_kind {{LC:String}},
    scope_id String,
    -- cohort dimension → value, as parallel arrays sorted by key (empty for non-cohort findings).
    cohort_keys Array(String),
    cohort_values Array(String),
    observed Float64,
    threshold Float64,
    baseline Nullable(Float64),
    -- details as canonical JSON (sorted keys); read with visitParamExtract* (18.16) or JSONExtract*.
    details String
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(ts)
ORDER BY finding_id;
