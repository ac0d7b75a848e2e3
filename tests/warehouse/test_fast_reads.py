"""Fast reads across tiers: a query over warm days opens no cold file, a job lookup opens only the
job's days, and `jobs_all` stays exact however the records got into the tiers.

"Opens no file" is shown the hard way: the cold files a query should not need are deleted from
S3 first, so a query that still opened them would fail.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from pyiceberg.expressions import And, GreaterThanOrEqual, LessThan

from apps.accounts.actors import Actor
from apps.explorer import services
from apps.lake import s3
from apps.lake.maintenance import data_files
from apps.retention.models import RetentionPolicy
from apps.retention.services import retention_run
from apps.warehouse import client as ch
from apps.warehouse import job_index, logical
from tests.actors import TESTS
from tests.roles import user_in
from tests.retention.helpers import T0, export, jobs_all_counts, produce, warm_days


def _tier(archive, settings, n: int = 600) -> list[dict]:
    """n records over the 12 days before T0; the 4 newest days stay warm, the others go cold only."""
    settings.ARCHIVE_TIERING_GRACE_SECONDS = 0
    RetentionPolicy.objects.create(warm_days=4)
    produced = produce(archive, n, now=T0, days=12, seed=71)
    export()
    retention_run(actor=TESTS, dry_run=False, as_of=T0, steps=("tiering",))
    assert min(warm_days()) >= str((T0 - timedelta(days=4)).date())
    return produced


def _day(record: dict) -> str:
    return str(datetime.fromtimestamp(record["ms"] / 1000, timezone.utc).date())


def _delete_cold_files(first_day: str, last_day: str) -> int:
    """Delete the Iceberg data files of the days first_day..last_day from S3 (the table still lists them)."""
    start = datetime.fromisoformat(first_day).replace(tzinfo=timezone.utc)
    end = datetime.fromisoformat(last_day).replace(tzinfo=timezone.utc) + timedelta(days=1)
    paths = data_files(And(GreaterThanOrEqual("enqueue_time", start.isoformat()),
                           LessThan("enqueue_time", end.isoformat())))
    client = s3.client()
    for path in paths:
        bucket, _, key = path.removeprefix("s3://").partition("/")
        client.delete_object(Bucket=bucket, Key=key)
    return len(paths)


def _count(sql: str, **params) -> int:
    return int(ch.query(sql, tag="test", parameters=params).result_rows[0][0])


def test_a_query_over_warm_days_opens_no_cold_file(archive, settings):
    produced = _tier(archive, settings)
    first_warm = min(warm_days())
    assert _delete_cold_files(first_warm, str(T0.date())) > 0
    # The files are really gone: the cold table itself can no longer answer for those days.
    with pytest.raises(Exception):
        _count("SELECT count() FROM {db}.jobs_cold WHERE enqueue_time >= {d:DateTime64(6, 'UTC')}",
               d=datetime.fromisoformat(first_warm))

    since = datetime.fromisoformat(first_warm)
    recent = sum(1 for r in produced if _day(r) >= first_warm)
    assert _count("SELECT count() FROM {db}.jobs_all WHERE enqueue_time >= {d:DateTime64(6, 'UTC')}", d=since) == recent
    # All of history too: the old days from their cold files, the warm days from the warm tier only.
    assert jobs_all_counts() == (len(produced), len(produced))


def test_a_job_lookup_opens_only_the_days_of_the_job(archive, settings):
    produced = _tier(archive, settings)
    old = next(r for r in produced if _day(r) < min(warm_days()))
    day = _day(old)
    first = str((T0 - timedelta(days=13)).date())
    removed = _delete_cold_files(first, str((datetime.fromisoformat(day) - timedelta(days=1)).date())) + \
        _delete_cold_files(str((datetime.fromisoformat(day) + timedelta(days=1)).date()), str(T0.date()))
    assert removed > 0

    analyst = Actor.of_user(user_in("Analyst", "ana"))
    run = services.query_run_submit(actor=analyst, template="job_lookup", params={"job_id": old["job_id"]})
    done = services.query_run_execute(run_id=str(run.pk), rows_back=100)
    assert done["run"]["state"] == "succeeded", done["run"]["error"]
    columns = [name for name, _ in done["run"]["columns"]]
    found = sorted(row[columns.index("retries")] for row in done["rows"])
    assert found == sorted(r["retries"] for r in produced if r["job_id"] == old["job_id"])
    # A scan of every day would have met the deleted files.
    with pytest.raises(Exception):
        _count("SELECT count() FROM {db}.jobs_all WHERE job_id = {j:String}", j=old["job_id"])


def test_the_job_index_covers_both_tiers_and_is_rebuilt_from_the_cold_tier(archive, settings):
    produced = _tier(archive, settings, n=200)
    sample = produced[:20]
    for record in sample:
        assert str(_day(record)) in {str(d) for d in job_index.days_of_job(record["job_id"])}
    ch.command("TRUNCATE TABLE {db}.job_index", tag="test")
    assert job_index.days_of_job(sample[0]["job_id"]) == []
    job_index.backfill_cold()  # what the migrate that adds the index does for what was archived before
    for record in sample:
        assert str(_day(record)) in {str(d) for d in job_index.days_of_job(record["job_id"])}


def test_batches_written_while_the_warm_sink_was_off_are_counted_once(archive, settings):
    """Failed before such batches marked their groups: a group with cold-only records and then warm
    ones was read from the warm tier alone, which missed the cold-only records."""
    now = datetime.now(timezone.utc)
    settings.ARCHIVE_SINK_CLICKHOUSE = False
    cold_only = produce(archive, 80, now=now, days=1, seed=81)
    export()
    settings.ARCHIVE_SINK_CLICKHOUSE = True
    both = produce(archive, 80, now=now, days=1, seed=82)
    export()
    assert jobs_all_counts() == (len(cold_only) + len(both),) * 2
    # The job index has the cold-only records too: a lookup finds them.
    assert [str(d) for d in job_index.days_of_job(cold_only[0]["job_id"])] == [_day(cold_only[0])]


def test_groups_left_unmarked_by_older_versions_are_marked_by_the_migration(archive, settings):
    now = datetime.now(timezone.utc)
    settings.ARCHIVE_SINK_CLICKHOUSE = False
    cold_only = produce(archive, 60, now=now - timedelta(days=3), days=1, seed=83)
    export()
    settings.ARCHIVE_SINK_CLICKHOUSE = True
    ch.command("TRUNCATE TABLE {db}.tier_moves", tag="test")  # as an older version left them: unmarked
    warm = produce(archive, 60, now=now, days=1, seed=84)
    export()
    assert jobs_all_counts()[0] == len(warm)  # the unmarked cold-only days are past the newest marker
    logical.mark_unmarked_cold_groups()
    assert jobs_all_counts() == (len(cold_only) + len(warm),) * 2
