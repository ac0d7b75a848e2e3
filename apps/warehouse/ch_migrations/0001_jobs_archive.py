"""The warm tier: one row per archived job attempt, partitioned by day.

The column list is written out (not imported from apps.records.schema) so this migration
never changes when the code does; tests check that the migrated table matches the schema.
"""

STATEMENTS = [
    """
CREATE TABLE IF NOT EXISTS {db}.jobs_archive
(
    `job_id` String,
    `queue` LowCardinality(String),
    `tenant_id` LowCardinality(String),
    `priority` Int32,
    `enqueue_time` DateTime64(6, 'UTC'),
    `start_time` Nullable(DateTime64(6, 'UTC')),
    `end_time` Nullable(DateTime64(6, 'UTC')),
    `outcome` LowCardinality(String),
    `retries` Int32,
    `error_type` LowCardinality(String),
    `error_msg` String,
    `worker_id` LowCardinality(String),
    `worker_version` LowCardinality(String),
    `payload_size` Int64,
    `payload_hash` String,
    `payload_sample` String,
    `trace_id` String,
    `span_id` String,
    `correlation_id` String,
    `tags` Map(LowCardinality(String), String),
    `schema_version` Int32,
    `stream_id` String,
    INDEX idx_trace_id trace_id TYPE bloom_filter(0.01) GRANULARITY 4,
    INDEX idx_payload_hash payload_hash TYPE bloom_filter(0.01) GRANULARITY 4,
    INDEX idx_job_id job_id TYPE bloom_filter(0.01) GRANULARITY 4
)
ENGINE = MergeTree
PARTITION BY toDate(enqueue_time)
ORDER BY (queue, enqueue_time, outcome)
-- Exactly-once inserts: replays carry the same insert_deduplication_token.
SETTINGS non_replicated_deduplication_window = 10000
""",
]
