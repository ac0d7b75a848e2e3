"""What `jobs_all` holds per day, queue and outcome (`apps/warehouse/held.py`), for the questions
about what is held now (the `retention_status` template).

`held_daily` keeps one row per (day, queue, outcome) at the version of the day's last refresh; a
group gone since is a row marked deleted, which FINAL drops. `held_days` says which days' rows are
fresh: a write marks its days stale before and after it writes, a refresh marks them fresh. Counts
and times only: no payload, no identifier of a job or a person. Every day already archived is
marked stale by the warehouse migrate that applies this migration, so the first refresh summarises it.
"""

_T = "DateTime64(6, 'UTC')"

STATEMENTS = [
    f"""
CREATE TABLE IF NOT EXISTS {{db}}.held_daily
(
    `day` Date COMMENT 'the UTC day the jobs were enqueued on',
    `queue` LowCardinality(String) COMMENT 'queue name',
    `outcome` LowCardinality(String) COMMENT 'success, failed, timeout, cancelled, retry or dead',
    `records` UInt64 COMMENT 'records of that day, queue and outcome held now (warm or cold, each once)',
    `oldest` {_T} COMMENT 'the earliest enqueue time among them',
    `newest` {_T} COMMENT 'the latest enqueue time among them',
    `version` UInt64 COMMENT 'when the day was summarised (ns); read the table with FINAL',
    `deleted` UInt8 COMMENT '1: the group is gone since (FINAL drops it)'
)
ENGINE = ReplacingMergeTree(version, deleted)
ORDER BY (day, queue, outcome)
COMMENT 'What jobs_all holds per day, queue and outcome, exact for the days held_days marks fresh; the retention_status template reads it for those days and jobs_all for the others'
""",
    """
CREATE TABLE IF NOT EXISTS {db}.held_days
(
    `day` Date,
    `version` UInt64,
    `fresh` UInt8
)
ENGINE = ReplacingMergeTree(version)
ORDER BY day
""",
]
