"""A lifecycle run is SIGKILLed mid-tiering and mid-compaction; after restarts nothing is lost or doubled,
and no warm data leaves without a verified cold copy."""

from __future__ import annotations

import json
import signal

from apps.lake import maintenance
from apps.lake.s3 import client as s3_client
from apps.lake.table import load_table
from apps.retention.models import RetentionPolicy
from apps.retention.services import retention_run
from tests.actors import TESTS
from tests.retention.helpers import T0, days, export, jobs_all_counts, produce, warm_days

RECORDS = 3000
CRASH_POINTS = ["tiering_marked:1", "tiering_evicted:3", "compaction_written:2", "compacted:2"]


def _query(archive, chdb_path, sql: str) -> list[dict]:
    out = archive.manage("archive", "query", "--format", "json", sql, chdb_path=chdb_path)
    return json.loads(out.stdout)


def _internal_query(archive, chdb_path, sql: str) -> list[dict]:
    """For the portal's own tables (tier_moves), which `archive query` refuses: the client, in the worker's process."""
    code = ("import json; from apps.warehouse import client as ch; "
            f"r = ch.query({sql!r}, tag='test'); "
            "print(json.dumps([dict(zip(r.column_names, row)) for row in r.result_rows], default=str))")
    out = archive.manage("shell", "--no-imports", "-c", code, chdb_path=chdb_path)
    return json.loads(out.stdout.strip().splitlines()[-1])


def _counts(archive, chdb_path) -> tuple[int, int]:
    row = _query(archive, chdb_path, "SELECT count() AS n, uniqExact(job_id, retries) AS d FROM jobs_all")[0]
    return int(row["n"]), int(row["d"])


def test_kill_mid_tiering_and_mid_compaction(archive, tmp_path):
    chdb_path = tmp_path / "worker-chdb"
    archive.manage("archive", "migrate", chdb_path=chdb_path)
    RetentionPolicy.objects.create(warm_days=5)  # no purge: every record must stay, exactly once
    produce(archive, RECORDS, now=T0, days=20, seed=21)
    archive.manage("archive", "export", "--drain", chdb_path=chdb_path, env={"ARCHIVE_EXPORT_BATCH_SIZE": "300"})
    assert _counts(archive, chdb_path) == (RECORDS, RECORDS)
    files_before = maintenance.table_size()["files"]

    run = ("archive", "run", "--as-of", T0.isoformat(), "--json")
    for point in CRASH_POINTS:
        crashed = archive.manage(*run, chdb_path=chdb_path, check=False, env={"ARCHIVE_EXPORT_CRASH_AT": point})
        assert crashed.returncode == -signal.SIGKILL, f"{point}: {crashed.stdout}\n{crashed.stderr}"
        assert _counts(archive, chdb_path) == (RECORDS, RECORDS), point

    final = json.loads(archive.manage(*run, chdb_path=chdb_path).stdout)
    assert not final["alerts"]
    assert _counts(archive, chdb_path) == (RECORDS, RECORDS)

    # The warm tier keeps only the last five days; every group that left it has a marker whose
    # verified count equals what the cold tier holds for it.
    warm = _query(archive, chdb_path, "SELECT min(toDate(enqueue_time)) AS d FROM jobs_archive")[0]["d"]
    assert warm >= str((T0 - days(5)).date())
    markers = _internal_query(archive, chdb_path, "SELECT toString(day) AS day, toString(queue) AS q, "
                                                  "toString(outcome) AS o, records FROM {db}.tier_moves FINAL")
    cold = {(r["day"], r["q"], r["o"]): int(r["n"]) for r in _query(
        archive, chdb_path, "SELECT toString(toDate(enqueue_time)) AS day, toString(queue) AS q, "
                            "toString(outcome) AS o, count() AS n FROM jobs_cold GROUP BY day, q, o")}
    assert markers and all(cold[(m["day"], m["q"], m["o"])] == int(m["records"]) for m in markers)
    moved_days = {m["day"] for m in markers}
    assert len(moved_days) >= 14

    # Compaction left one file per closed day, and the files the crashes orphaned are gone from S3.
    table = load_table()
    per_day = maintenance.day_files(table)
    assert all(n == 1 for day, n in per_day.items() if day < T0.date())
    assert maintenance.table_size()["files"] < files_before
    location = table.location().split("://", 1)[1]
    bucket, prefix = location.split("/", 1)
    listed = s3_client().list_objects_v2(Bucket=bucket, Prefix=f"{prefix}/data/")
    assert listed.get("KeyCount", 0) == maintenance.table_size()["files"]


def test_tiering_keeps_warm_data_the_cold_tier_does_not_prove(archive):
    RetentionPolicy.objects.create(warm_days=3)
    produce(archive, 800, now=T0, days=10, seed=22)
    export()
    target_day = (T0 - days(8)).date()
    # Damage the cold copy of one day's emails (as a bad manual delete would).
    from pyiceberg.expressions import And, EqualTo

    maintenance.delete_where(And(maintenance.day_filter(target_day), EqualTo("queue", "emails")))
    before = jobs_all_counts()

    run = retention_run(actor=TESTS, dry_run=False, as_of=T0, steps=("tiering",))

    assert run.alerts and all(str(target_day) in alert and "emails" in alert for alert in run.alerts)
    assert str(target_day) in warm_days()  # the day stays warm: its other groups went, emails did not
    assert jobs_all_counts() == before  # nothing lost from the logical view
    refused = run.plan["tiering"]["refused"]
    assert {(r["day"], r["queue"]) for r in refused} == {(str(target_day), "emails")}
