"""The rollups: their totals equal jobs_all's counts per group, before and after tiering, with every
write path counted once (warm inserts, batches written without the warm sink, replays, the backfill)."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta, timezone

import pyarrow as pa
import pytest

from apps.exports.bench import bench_policies
from apps.exports.pipeline import sinks
from apps.exports.pipeline.transform import transform
from apps.retention.models import RetentionPolicy
from apps.retention.services import retention_run
from apps.stream.demo import generate
from apps.warehouse import client as ch
from apps.warehouse import rollups, services
from tests.actors import TESTS
from tests.retention.helpers import T0, export, jobs_all_counts, produce, warm_days

FAILED = "outcome IN ('failed', 'timeout', 'dead')"
# Each rollup's groups, counted from jobs_all and read from the rollup.
PAIRS = {
    "queue_hourly_stats": (
        "SELECT toString(queue), toString(outcome), toStartOfHour(enqueue_time) AS h, count() FROM {db}.jobs_all "
        "GROUP BY 1, 2, 3",
        "SELECT toString(queue), toString(outcome), hour, sum(jobs) FROM {db}.queue_hourly_stats GROUP BY 1, 2, 3"),
    "error_patterns": (
        "SELECT toString(queue), toString(outcome), toString(error_type), toStartOfHour(enqueue_time), count() "
        f"FROM {{db}}.jobs_all WHERE {FAILED} GROUP BY 1, 2, 3, 4",
        "SELECT toString(queue), toString(outcome), toString(error_type), hour, sum(failures) "
        "FROM {db}.error_patterns GROUP BY 1, 2, 3, 4"),
    "worker_daily_stats": (
        "SELECT toDate(enqueue_time), toString(queue), toString(worker_id), toString(worker_version), count() "
        "FROM {db}.jobs_all GROUP BY 1, 2, 3, 4",
        "SELECT day, toString(queue), toString(worker_id), toString(worker_version), sum(jobs) "
        "FROM {db}.worker_daily_stats GROUP BY 1, 2, 3, 4"),
}


def _groups(sql: str) -> Counter:
    return Counter({tuple(row[:-1]): int(row[-1]) for row in ch.query(sql, tag="test").result_rows})


def _assert_rollups_match_jobs_all() -> None:
    for name, (counted, rolled) in PAIRS.items():
        expected = _groups(counted)
        assert expected, name
        assert _groups(rolled) == expected, name


def _total() -> int:
    return int(ch.query("SELECT sum(jobs) FROM {db}.queue_hourly_stats", tag="test").result_rows[0][0])


def _batch(n: int, seed: int):
    entries = generate(n, seed=seed, now_ms=int(datetime.now(timezone.utc).timestamp() * 1000))
    return transform([(f"{i}-0", [x for kv in e.items() for x in kv]) for i, e in enumerate(entries)],
                     bench_policies()).table


def test_rollup_totals_equal_jobs_all_counts_before_and_after_tiering(archive, settings):
    settings.ARCHIVE_TIERING_GRACE_SECONDS = 0
    RetentionPolicy.objects.create(warm_days=4)
    produced = produce(archive, 600, now=T0, days=12, seed=91)
    export()
    _assert_rollups_match_jobs_all()
    assert _total() == len(produced)

    retention_run(actor=TESTS, dry_run=False, as_of=T0, steps=("tiering",))
    assert min(warm_days()) >= str((T0 - timedelta(days=4)).date())  # most days really left the warm tier
    assert jobs_all_counts() == (len(produced), len(produced))
    _assert_rollups_match_jobs_all()


def test_batches_written_without_the_warm_sink_are_counted_once(archive, settings):
    settings.ARCHIVE_SINK_CLICKHOUSE = False
    cold_only = produce(archive, 120, now=datetime.now(timezone.utc), days=2, seed=92)
    export()
    settings.ARCHIVE_SINK_CLICKHOUSE = True
    both = produce(archive, 80, now=datetime.now(timezone.utc), days=2, seed=93)
    export()
    assert _total() == len(cold_only) + len(both)
    _assert_rollups_match_jobs_all()


@pytest.mark.parametrize("write", ["warm", "cold_only"])
def test_a_replayed_batch_is_counted_once(archive, write):
    batch = _batch(150, seed=94)
    for _ in range(2):  # recovery replays a recorded batch exactly as it was
        if write == "warm":
            sinks.write_clickhouse(batch, "replayed-batch")
        else:
            sinks.write_cold_only(batch, "replayed-batch")
    assert _total() == batch.num_rows
    sinks.write_cold_only(_batch(30, seed=95), "another-batch")  # a different batch counts
    assert _total() == batch.num_rows + 30


@pytest.mark.parametrize("write", ["warm", "cold_only"])
def test_two_batches_that_look_alike_in_every_rolled_up_field_both_count(archive, write):
    """ClickHouse drops an insert block identical to a recent one unless a token says otherwise; one
    job's rollup rows can equal another's (same hour, queue, outcome, duration, time)."""
    first = _batch(1, seed=97)
    second = first.set_column(first.schema.get_field_index("job_id"), "job_id", pa.array(["another-job"]))
    for i, batch in enumerate((first, second)):
        if write == "warm":
            sinks.write_clickhouse(batch, f"look-alike-{i}")
        else:
            sinks.write_cold_only(batch, f"look-alike-{i}")
    assert _total() == 2


def test_the_migration_that_adds_the_rollups_counts_what_was_archived_before(archive, settings):
    produced = produce(archive, 300, now=datetime.now(timezone.utc), days=3, seed=96)
    export()
    for table in rollups.TABLES:  # as the archive was before the rollups existed
        ch.command(f"TRUNCATE TABLE {{db}}.{table}", tag="test")
    ch.command("DELETE FROM {db}.schema_migrations WHERE name = {n:String}", tag="test",
               parameters={"n": services.ROLLUPS_MIGRATION})
    assert services.warehouse_migrate()["clickhouse_applied"] == [services.ROLLUPS_MIGRATION]
    assert _total() == len(produced)
    _assert_rollups_match_jobs_all()


def test_the_migrated_rollups_have_the_documented_columns(archive):
    for rollup in rollups.ROLLUPS:
        rows = ch.query("SELECT name FROM system.columns WHERE database = {d:String} AND table = {t:String} "
                        "ORDER BY position", tag="test", parameters={"d": ch.database(), "t": rollup.name}).result_rows
        assert [r[0] for r in rows] == [name for name, _, _ in rollup.columns]


def _lake_dataset(name: str):
    """A rollup read from S3 by a second engine (pyarrow's own S3 client and Parquet reader)."""
    import pyarrow.dataset as ds
    from django.conf import settings
    from pyarrow import fs

    endpoint = settings.S3_ENDPOINT_URL
    s3fs = fs.S3FileSystem(access_key=settings.AWS_ACCESS_KEY_ID, secret_key=settings.AWS_SECRET_ACCESS_KEY,
                           endpoint_override=endpoint.split("://", 1)[1], scheme=endpoint.split("://", 1)[0],
                           region="us-east-1")
    return ds.dataset(f"{settings.S3_BUCKET}/{settings.ARCHIVE_ROLLUPS_PREFIX}{name}", filesystem=s3fs,
                      format="parquet", partitioning="hive").to_table()


def test_the_rollups_in_the_lake_are_readable_by_another_engine_and_match(archive, settings):
    from apps.warehouse.tasks import rollups_to_lake

    now = datetime.now(timezone.utc)
    produced = produce(archive, 400, now=now, days=70, seed=98)  # three months or so
    export()
    written = rollups_to_lake.apply().get()  # the beat task, in this process
    assert written["queue_hourly_stats"]["months"] >= 3

    hourly = _lake_dataset("queue_hourly_stats")
    assert sum(hourly.column("jobs").to_pylist()) == len(produced)
    read = Counter()
    for row in hourly.select(["queue", "outcome", "hour", "jobs"]).to_pylist():
        read[(row["queue"], row["outcome"], row["hour"].replace(tzinfo=None))] += row["jobs"]
    counted = _groups(PAIRS["queue_hourly_stats"][0])
    assert read == Counter({(q, o, h.replace(tzinfo=None)): n for (q, o, h), n in counted.items()})
    assert {"duration_p50_ms", "duration_p95_ms", "month"} <= set(hourly.column_names)
    errors = _lake_dataset("error_patterns")
    assert sum(errors.column("failures").to_pylist()) == sum(1 for r in produced if r["outcome"] in
                                                             ("failed", "timeout", "dead"))
    workers = _lake_dataset("worker_daily_stats")
    assert sum(workers.column("jobs").to_pylist()) == len(produced)

    # The next run rewrites only the newest months; a month the lake lost is written again.
    settings.ARCHIVE_ROLLUPS_LAKE_MONTHS = 1
    assert rollups_to_lake.apply().get()["queue_hourly_stats"]["months"] == 1
