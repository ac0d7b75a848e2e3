"""The job index (`apps/warehouse/job_index.py`): which days hold a job id, by a hash of the id.

Rows arrive in `job_index_in` (Null: it keeps nothing) and its materialized view writes the hash
and the day. The records already warm are indexed here; the cold ones by the warehouse migrate
that applies this migration (`apps.warehouse.services.warehouse_migrate`), once `jobs_cold` is linked.
"""

STATEMENTS = [
    """
CREATE TABLE IF NOT EXISTS {db}.job_index
(
    `job_hash` UInt64,
    `day` Date
)
ENGINE = ReplacingMergeTree
ORDER BY (job_hash, day)
""",
    "CREATE TABLE IF NOT EXISTS {db}.job_index_in (`job_id` String, `day` Date) ENGINE = Null",
    "CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.job_index_mv TO {db}.job_index AS "
    "SELECT cityHash64(job_id) AS job_hash, day FROM {db}.job_index_in",
    "INSERT INTO {db}.job_index_in SELECT DISTINCT job_id, toDate(enqueue_time) FROM {db}.jobs_archive",
]
