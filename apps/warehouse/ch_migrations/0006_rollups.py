"""The rollups (`apps/warehouse/rollups.py`): per-hour and per-day aggregates kept at insert time.

Three AggregatingMergeTree tables, each filled by two materialized views: one on `jobs_archive`
(every warm insert) and one on `rollup_in` (Null: it keeps nothing), where a batch archived without
the warm sink, and the backfill of what was archived before this migration, arrive. No column holds
a payload, a message, an identifier of a job or of a person: queues, outcomes, error types, worker
names, counts, sums and duration digests only. What the tiers held before this migration is added by
the warehouse migrate that applies it (`apps.warehouse.services.warehouse_migrate`), from `jobs_all`.
"""

_T = "DateTime64(6, 'UTC')"
_DIGEST = "AggregateFunction(quantilesTDigest(0.5, 0.9, 0.95, 0.99), Int64)"
_DURATION = ("quantilesTDigestStateIf(0.5, 0.9, 0.95, 0.99)(assumeNotNull(dateDiff('millisecond', start_time, "
             "end_time)), isNotNull(start_time) AND isNotNull(end_time)) AS duration_ms")
_FAILED = "outcome IN ('failed', 'timeout', 'dead')"

_TABLES = {
    "queue_hourly_stats": (
        f"""(
    `hour` DateTime('UTC'),
    `queue` LowCardinality(String),
    `outcome` LowCardinality(String),
    `jobs` SimpleAggregateFunction(sum, UInt64),
    `retries` SimpleAggregateFunction(sum, Int64),
    `payload_bytes` SimpleAggregateFunction(sum, Int64),
    `started` SimpleAggregateFunction(sum, UInt64),
    `wait_ms` SimpleAggregateFunction(sum, Int64),
    `duration_ms` {_DIGEST},
    `first_seen` SimpleAggregateFunction(min, {_T}),
    `last_seen` SimpleAggregateFunction(max, {_T})
)
ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(hour)
ORDER BY (hour, queue, outcome)""",
        "SELECT toStartOfHour(enqueue_time) AS hour, queue, outcome, count() AS jobs, sum(retries) AS retries, "
        "sum(payload_size) AS payload_bytes, countIf(isNotNull(start_time)) AS started, "
        "sum(ifNull(dateDiff('millisecond', enqueue_time, start_time), 0)) AS wait_ms, "
        f"{_DURATION}, min(enqueue_time) AS first_seen, max(enqueue_time) AS last_seen "
        "FROM {db}.%(source)s GROUP BY hour, queue, outcome",
    ),
    "error_patterns": (
        f"""(
    `hour` DateTime('UTC'),
    `queue` LowCardinality(String),
    `outcome` LowCardinality(String),
    `error_type` LowCardinality(String),
    `failures` SimpleAggregateFunction(sum, UInt64),
    `retries` SimpleAggregateFunction(sum, Int64),
    `workers` AggregateFunction(uniqExact, String),
    `first_seen` SimpleAggregateFunction(min, {_T}),
    `last_seen` SimpleAggregateFunction(max, {_T})
)
ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(hour)
ORDER BY (hour, queue, outcome, error_type)""",
        "SELECT toStartOfHour(enqueue_time) AS hour, queue, outcome, error_type, count() AS failures, "
        "sum(retries) AS retries, uniqExactState(toString(worker_id)) AS workers, "
        "min(enqueue_time) AS first_seen, max(enqueue_time) AS last_seen "
        f"FROM {{db}}.%(source)s WHERE {_FAILED} GROUP BY hour, queue, outcome, error_type",
    ),
    "worker_daily_stats": (
        f"""(
    `day` Date,
    `queue` LowCardinality(String),
    `worker_id` LowCardinality(String),
    `worker_version` LowCardinality(String),
    `jobs` SimpleAggregateFunction(sum, UInt64),
    `failed` SimpleAggregateFunction(sum, UInt64),
    `duration_ms` {_DIGEST}
)
ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(day)
ORDER BY (day, queue, worker_id, worker_version)""",
        "SELECT toDate(enqueue_time) AS day, queue, worker_id, worker_version, count() AS jobs, "
        f"countIf({_FAILED}) AS failed, {_DURATION} "
        "FROM {db}.%(source)s GROUP BY day, queue, worker_id, worker_version",
    ),
}

_INTAKE = """
CREATE TABLE IF NOT EXISTS {db}.rollup_in
(
    `queue` LowCardinality(String),
    `outcome` LowCardinality(String),
    `enqueue_time` DateTime64(6, 'UTC'),
    `start_time` Nullable(DateTime64(6, 'UTC')),
    `end_time` Nullable(DateTime64(6, 'UTC')),
    `retries` Int32,
    `error_type` LowCardinality(String),
    `worker_id` LowCardinality(String),
    `worker_version` LowCardinality(String),
    `payload_size` Int64
)
ENGINE = Null
"""

STATEMENTS = [
    _INTAKE,
    *(f"CREATE TABLE IF NOT EXISTS {{db}}.{name}\n{columns}\n"
      # Exactly once: a replayed intake insert carries its batch's token (apps.warehouse.rollups).
      "SETTINGS non_replicated_deduplication_window = 10000"
      for name, (columns, _) in _TABLES.items()),
    *(f"CREATE MATERIALIZED VIEW IF NOT EXISTS {{db}}.{name}_from_{source} TO {{db}}.{name} AS "
      + select % {"source": source}
      for name, (_, select) in _TABLES.items() for source in ("jobs_archive", "rollup_in")),
]
