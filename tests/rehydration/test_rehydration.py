"""Rehydration: a cold date range (and queues) copied into its own ClickHouse table, queryable, then dropped."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, date, datetime, timedelta
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from apps.accounts.actors import Actor
from apps.exports.exporter import Exporter
from apps.rehydration import services, tables
from apps.rehydration.models import Rehydration, RehydrationState
from apps.rehydration.tasks import rehydration_expire
from apps.schemas.registry import forget_live_schema
from apps.schemas.services import schema_apply
from apps.stream.producer import Completion, record_completions
from apps.warehouse import client as ch
from tests.actors import TESTS
from tests.roles import user_in

QUEUES = ("emails", "reports", "billing")
FIRST, LAST = date(2026, 1, 2), date(2026, 1, 4)  # the range rehydrated below, both days included


def _completions() -> list[Completion]:
    """Six days x three queues, plus records on both edges of the range."""
    records = []
    for day in range(1, 7):
        for hour in (0, 9, 17):
            for queue in QUEUES:
                records.append(Completion(
                    job_id=f"{queue}-{day}-{hour}", queue=queue, outcome="failed" if hour == 17 else "success",
                    enqueue_time=datetime(2026, 1, day, hour, 30, tzinfo=UTC), priority=day,
                    error_type="Timeout" if hour == 17 else "",
                ))
    edges = {
        "edge-before": datetime(2026, 1, 1, 23, 59, 59, 999000, tzinfo=UTC),
        "edge-first": datetime(2026, 1, 2, 0, 0, tzinfo=UTC),
        "edge-last": datetime(2026, 1, 4, 23, 59, 59, 999000, tzinfo=UTC),
        "edge-after": datetime(2026, 1, 5, 0, 0, tzinfo=UTC),
    }
    for job_id, when in edges.items():
        records.append(Completion(job_id=job_id, queue="emails", outcome="success", enqueue_time=when))
    return records


def _expected(records: list[Completion], queues: tuple[str, ...] = ("emails",)) -> dict[str, tuple]:
    start = datetime(FIRST.year, FIRST.month, FIRST.day, tzinfo=UTC)
    end = datetime(LAST.year, LAST.month, LAST.day, tzinfo=UTC) + timedelta(days=1)
    return {r.job_id: (r.queue, r.outcome, r.enqueue_time, r.priority, r.error_type)
            for r in records if start <= r.enqueue_time < end and r.queue in queues}


@pytest.fixture
def cold(archive):
    """Records over several days and queues, exported to the cold tier."""
    records = _completions()
    record_completions(records, connection=archive.redis, stream=archive.stream)
    summary = Exporter().run()
    assert summary.records == len(records)
    return records


def _table_rows(table: str) -> dict[str, tuple]:
    rows = ch.query(f"SELECT job_id, queue, outcome, enqueue_time, priority, error_type FROM {{db}}.{table}",
                    tag="test").result_rows
    return {r[0]: (r[1], r[2], r[3].replace(tzinfo=UTC), r[4], r[5]) for r in rows}


def _table_exists(table: str) -> bool:
    result = ch.query("SELECT count() FROM system.tables WHERE database = {d:String} AND name = {t:String}",
                      tag="test", parameters={"d": ch.database(), "t": table})
    return result.result_rows[0][0] == 1


def test_range_and_queue_land_in_a_queryable_table_that_expires(cold, admin_user):
    expected = _expected(cold)
    assert "edge-first" in expected and "edge-last" in expected and len(expected) == 3 * 3 + 2

    rehydration = services.rehydration_request(date_from=FIRST, date_to=LAST, queues=["emails"],
                                               expires_in=timedelta(days=7), actor=Actor.of_user(admin_user))
    rehydration.refresh_from_db()
    assert rehydration.state == RehydrationState.READY, rehydration.error
    assert rehydration.table_name.startswith("rehydrated_")
    assert rehydration.rows == len(expected)
    assert rehydration.bytes > 0
    assert _table_rows(rehydration.table_name) == expected
    # Typed like the warm tier (not the Nullable columns IcebergS3 yields), sorted for queue/time scans.
    described = ch.query(f"DESCRIBE TABLE {{db}}.{rehydration.table_name}", tag="test").result_rows
    types = {row[0]: row[1] for row in described}
    assert types["queue"] == "LowCardinality(String)" and types["enqueue_time"] == "DateTime64(6, 'UTC')"

    # Analysts reach it through the read-only query path.
    out = StringIO()
    call_command("archive", "query", "--format", "json",
                 f"SELECT queue, count() AS n FROM {rehydration.table_name} GROUP BY queue", stdout=out)
    assert json.loads(out.getvalue()) == [{"queue": "emails", "n": len(expected)}]

    # Every queue, a day wider: still exactly the matching records.
    everything = services.rehydration_request(date_from=FIRST - timedelta(days=1), date_to=LAST, queues=[],
                                              expires_in=timedelta(hours=1), actor=Actor.of_user(admin_user))
    everything.refresh_from_db()
    start = datetime(2026, 1, 1, tzinfo=UTC)
    assert everything.rows == sum(1 for r in cold if start <= r.enqueue_time < datetime(2026, 1, 5, tzinfo=UTC))

    # Expiry drops only what is due.
    Rehydration.objects.filter(pk=everything.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert rehydration_expire.delay().get() == [everything.table_name]
    everything.refresh_from_db()
    assert everything.state == RehydrationState.EXPIRED and everything.dropped_at is not None
    assert not _table_exists(everything.table_name)
    assert _table_exists(rehydration.table_name)
    with pytest.raises(CommandError, match=everything.table_name):
        call_command("archive", "query", f"SELECT count() FROM {everything.table_name}")
    assert rehydration_expire.delay().get() == []


def test_bad_requests_are_refused_with_reasons(archive):
    for args, message in [
        (["--from", "2026-01-05", "--to", "2026-01-01"], "is before the first day"),
        (["--from", "2026-01-01", "--to", "2026-01-02", "--expires", "1y"], "not a duration"),
        (["--from", "2026-01-01", "--to", "2026-01-02", "--expires", "365d"], "at most 90d"),
        (["--from", "2026-01-01"], "give --from and --to"),
        (["--drop", "0123456789ab"], "no rehydration"),
    ]:
        with pytest.raises(CommandError, match=message):
            call_command("archive", "rehydrate", *args)
    assert Rehydration.objects.count() == 0


def test_command_line_rehydrates_lists_queries_and_drops(cold, archive, tmp_path):
    expected = _expected(cold, queues=("emails", "billing"))
    chdb_path = tmp_path / "chdb"  # the command is another process: it needs its own chDB path
    archive.manage("archive", "migrate", chdb_path=chdb_path)
    ops = user_in("SRE", "ops")  # requests and drops

    done = archive.manage("archive", "rehydrate", "--from", FIRST.isoformat(), "--to", LAST.isoformat(),
                          "--queue", "emails", "--queue", "billing", "--expires", "2h", "--by", "ops",
                          chdb_path=chdb_path)

    rehydration = Rehydration.objects.get()
    assert f"{rehydration.table_name}: {len(expected)} rows" in done.stdout
    assert rehydration.state == RehydrationState.READY and rehydration.queues == ["emails", "billing"]
    assert rehydration.requested_via.startswith("cli (") and rehydration.requested_by == ops
    assert timedelta(minutes=119) < rehydration.expires_at - rehydration.created_at <= timedelta(hours=2)

    listed = archive.manage("archive", "rehydrate", "--list", chdb_path=chdb_path).stdout
    line = next(x for x in listed.splitlines() if x.startswith(rehydration.short_id))
    assert "ready" in line and "emails,billing" in line and rehydration.table_name in line and "ops" in line

    queried = archive.manage("archive", "query", "--format", "json",
                             f"SELECT job_id FROM {rehydration.table_name} ORDER BY job_id", chdb_path=chdb_path)
    assert [row["job_id"] for row in json.loads(queried.stdout)] == sorted(expected)

    dropped = archive.manage("archive", "rehydrate", "--drop", rehydration.short_id, chdb_path=chdb_path)
    assert f"dropped {rehydration.table_name}" in dropped.stdout
    rehydration.refresh_from_db()
    assert rehydration.state == RehydrationState.EXPIRED
    gone = archive.manage("archive", "query", f"SELECT count() FROM {rehydration.table_name}",
                          chdb_path=chdb_path, check=False)
    assert gone.returncode != 0 and rehydration.table_name in gone.stderr


@pytest.fixture
def staff_client(client):
    user = user_in("SRE")  # requests and drops; an analyst requests only (tests/accounts/test_roles.py)
    client.force_login(user)
    return client, user


def test_admin_requests_shows_and_drops_a_rehydration(cold, staff_client):
    client, user = staff_client
    expected = _expected(cold, queues=("reports",))
    add_url = "/admin/rehydration/rehydration/add/"

    form = client.get(add_url)
    assert form.status_code == 200 and 'value="7d"' in form.content.decode()
    refused = client.post(add_url, {"date_from": "2026-01-04", "date_to": "2026-01-02", "queue_names": "reports",
                                    "expires_in": "3d"})
    assert refused.status_code == 200 and "is before the first day" in refused.content.decode()
    assert Rehydration.objects.count() == 0

    response = client.post(add_url, {"date_from": FIRST.isoformat(), "date_to": LAST.isoformat(),
                                     "queue_names": "reports", "expires_in": "3d"}, follow=True)
    assert response.status_code == 200
    rehydration = Rehydration.objects.get()
    assert f"Rehydration requested: table {rehydration.table_name}" in response.content.decode()
    assert rehydration.requested_by == user and rehydration.requested_via == "admin"
    assert rehydration.state == RehydrationState.READY, rehydration.error
    assert _table_rows(rehydration.table_name) == expected

    listing = client.get("/admin/rehydration/rehydration/").content.decode()
    assert "Ready to query" in listing and rehydration.table_name in listing and rehydration.short_id in listing

    result = client.post("/admin/rehydration/rehydration/",
                         {"action": "drop_now", "_selected_action": [str(rehydration.pk)]}, follow=True)
    assert "Dropping 1 rehydrated table." in result.content.decode()
    rehydration.refresh_from_db()
    assert rehydration.state == RehydrationState.EXPIRED
    assert not _table_exists(rehydration.table_name)

    from auditlog.models import LogEntry

    entries = LogEntry.objects.get_for_object(rehydration)
    assert entries.filter(action=LogEntry.Action.CREATE, actor=user).exists()
    assert entries.filter(changes__icontains="expired", actor=user).exists()


def _copy_range() -> tuple[datetime, datetime]:
    return datetime(2026, 1, 2, tzinfo=UTC), datetime(2026, 1, 5, tzinfo=UTC)


def test_a_copy_cut_short_is_dropped_by_expiry_whatever_its_state(cold):
    """The worker died during the copy: the row still says running, and the table is there."""
    crashed = services.rehydration_request(date_from=FIRST, date_to=LAST, queues=[], expires_in=timedelta(hours=1),
                                           actor=TESTS, dispatch=False)
    Rehydration.objects.filter(pk=crashed.pk).update(state=RehydrationState.RUNNING, started_at=timezone.now())
    start, end = _copy_range()
    tables.create_from_cold(table=crashed.table_name, start=start, end=end, queues=[])
    assert _table_exists(crashed.table_name)

    assert rehydration_expire.delay().get() == []  # not due yet, and its row owns it
    assert _table_exists(crashed.table_name)
    Rehydration.objects.filter(pk=crashed.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert rehydration_expire.delay().get() == [crashed.table_name]
    crashed.refresh_from_db()
    assert crashed.state == RehydrationState.EXPIRED and crashed.dropped_at is not None
    assert not _table_exists(crashed.table_name)


def test_expiry_drops_rehydrated_tables_that_no_live_request_owns(cold, admin_user):
    kept = services.rehydration_request(date_from=FIRST, date_to=LAST, queues=["emails"],
                                        expires_in=timedelta(hours=1), actor=Actor.of_user(admin_user))
    failed = services.rehydration_request(date_from=FIRST, date_to=LAST, queues=["reports"],
                                          expires_in=timedelta(hours=1), actor=Actor.of_user(admin_user))
    # A failed request whose table survived, and a table whose row is gone altogether.
    Rehydration.objects.filter(pk=failed.pk).update(state=RehydrationState.FAILED, error="worker lost")
    unowned = Rehydration.table_name_for(uuid.uuid4())
    start, end = _copy_range()
    tables.create_from_cold(table=unowned, start=start, end=end, queues=[])

    assert sorted(rehydration_expire.delay().get()) == sorted([failed.table_name, unowned])
    assert not _table_exists(failed.table_name) and not _table_exists(unowned)
    assert _table_exists(kept.table_name)
    kept.refresh_from_db()
    assert kept.state == RehydrationState.READY


NEXT_SPEC = Path(__file__).resolve().parents[2] / "docs" / "schemas" / "v3.example.json"  # after the shipped v2


@pytest.fixture
def v1_process_schema():
    """The registry is per test, this process's cached schema is not: start and end on version 1."""
    forget_live_schema()
    yield
    forget_live_schema()


def _entry(job_id: str, hour: int, **extra: str) -> dict[bytes, bytes]:
    fields = {"job_id": job_id, "queue": "emails", "outcome": "success",
              "enqueue_time": str(int(datetime(2026, 1, 3, hour, tzinfo=UTC).timestamp() * 1000)), **extra}
    return {k.encode(): v.encode() for k, v in fields.items()}


def test_a_rehydrated_table_carries_the_fields_added_by_schema_versions(archive, v1_process_schema):
    archive.redis.xadd(archive.stream, _entry("v1-old", 1))  # its cold file predates version 3
    assert Exporter().run().records == 1
    schema_apply(spec=json.loads(NEXT_SPEC.read_text()), actor=TESTS, via="test")  # adds region, billed_units
    archive.redis.xadd(archive.stream, _entry("v1-new", 2, region="mars"))  # v1 cannot set v3 fields
    archive.redis.xadd(archive.stream, _entry("v3-full", 3, schema_version="3", region="eu-west-1",
                                              billed_units="3"))
    archive.redis.xadd(archive.stream, _entry("v3-bare", 4, schema_version="3"))
    assert Exporter().run().records == 3

    rehydration = services.rehydration_request(date_from=FIRST, date_to=LAST, queues=[],
                                               expires_in=timedelta(hours=1), actor=TESTS)
    rehydration.refresh_from_db()
    assert rehydration.state == RehydrationState.READY, rehydration.error
    rows = ch.query(f"SELECT job_id, region, billed_units FROM {{db}}.{rehydration.table_name} ORDER BY job_id",
                    tag="test").result_rows
    assert rows == [("v1-new", "unknown", None), ("v1-old", "unknown", None), ("v3-bare", "unknown", None),
                    ("v3-full", "eu-west-1", 3)]
    described = {row[0]: row[1] for row in ch.query(f"DESCRIBE TABLE {{db}}.{rehydration.table_name}",
                                                    tag="test").result_rows}
    assert described["region"] == "LowCardinality(String)" and described["billed_units"] == "Nullable(Int64)"
    assert described["subject_keys"] == "Array(String)"


def test_a_copy_taken_while_a_purge_ran_applies_that_purge(cold, admin_user):
    """A purge that had not finished when the copy started (its rehydrated-table step could not see a
    copy still being made) is applied by the copy itself when it is ready."""
    from apps.places.selection import Selection
    from apps.retention.models import RetentionRun, RunKind, RunState

    rehydration = services.rehydration_request(date_from=FIRST, date_to=LAST, queues=[],
                                               expires_in=timedelta(days=1), actor=Actor.of_user(admin_user), dispatch=False)
    # A purge of the emails queue is running (its plan recorded, not finished) while the copy is made.
    selection = Selection(datetime(2026, 2, 1, tzinfo=UTC), "emails", None, reason="requested purge")
    RetentionRun.objects.create(kind=RunKind.PURGE, dry_run=False, as_of=timezone.now(), state=RunState.RUNNING,
                                plan={"criteria": [selection.as_dict()]})

    services.rehydration_run(rehydration_id=str(rehydration.id))

    rehydration.refresh_from_db()
    assert rehydration.state == RehydrationState.READY
    rows = _table_rows(rehydration.table_name)
    assert rows and not [job for job, row in rows.items() if row[0] == "emails"]
    assert {row[0] for row in rows.values()} == {"reports", "billing"}
