CREATE TABLE {db}.jobs_archive
(
    `job_id` String CODEC(ZSTD(3)),
    `queue` LowCardinality(String),
    `tenant_id` LowCardinality(String),
    `priority` Int32,
    `enqueue_time` DateTime64(6, 'UTC') CODEC(Delta(8), ZSTD(3)),
    `start_time` Nullable(DateTime64(6, 'UTC')) CODEC(ZSTD(3)),
    `end_time` Nullable(DateTime64(6, 'UTC')) CODEC(ZSTD(3)),
    `outcome` LowCardinality(String),
    `retries` Int32,
    `error_type` LowCardinality(String),
    `error_msg` String CODEC(ZSTD(3)),
    `worker_id` LowCardinality(String),
    `worker_version` LowCardinality(String),
    `payload_size` Int64 CODEC(ZSTD(3)),
    `payload_hash` String CODEC(ZSTD(3)),
    `payload_sample` String CODEC(ZSTD(3)),
    `trace_id` String CODEC(ZSTD(3)),
    `span_id` String CODEC(ZSTD(3)),
    `correlation_id` String CODEC(ZSTD(3)),
    `tags` Map(LowCardinality(String), String) CODEC(ZSTD(3)),
    `schema_version` Int32,
    `stream_id` String CODEC(ZSTD(3)),
    `subject_keys` Array(String) DEFAULT [] CODEC(ZSTD(3)),
    INDEX idx_trace_id trace_id TYPE bloom_filter(0.01) GRANULARITY 4,
    INDEX idx_payload_hash payload_hash TYPE bloom_filter(0.01) GRANULARITY 4,
    INDEX idx_job_id job_id TYPE bloom_filter(0.01) GRANULARITY 4
)
ENGINE = MergeTree
PARTITION BY toDate(enqueue_time)
ORDER BY (queue, enqueue_time, outcome)
SETTINGS non_replicated_deduplication_window = 10000, index_granularity = 8192, cleanup_delay_period = 1, max_cleanup_delay_period = 1, cleanup_delay_period_random_add = 0
