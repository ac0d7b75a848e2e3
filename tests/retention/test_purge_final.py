"""A purge is final: nothing it covered comes back, from any tier, the stream, the dead letters or a
rehydrated copy, whatever the exporter and the retention runs do afterwards."""

from __future__ import annotations

from datetime import date, timedelta
from io import StringIO

from django.core.management import call_command

from apps.exports.exporter import Exporter
from apps.exports.models import DeadLetter
from apps.rehydration import services as rehydration
from apps.stream.demo import generate
from apps.warehouse import client as ch
from tests.actors import TESTS
from tests.retention.helpers import DAY_MS, T0, export, purge_approved

GROUP = "archive-exporter"


def _emails_in(table: str) -> int:
    return int(ch.query(f"SELECT count() FROM {{db}}.{table} WHERE queue = 'emails'", tag="test").result_rows[0][0])


def _emails_in_stream(r, key: str) -> int:
    return sum(1 for _, fields in r.xrange(key) if fields.get(b"queue") == b"emails")


def _add(archive, entries) -> list[str]:
    pipe = archive.redis.pipeline()
    for fields in entries:
        pipe.xadd(archive.stream, fields)
    return [i.decode() for i in pipe.execute()]


def test_purged_records_never_come_back(archive, settings):
    now_ms = int(T0.timestamp() * 1000)
    # Exported records, from simulated March (far older than a day).
    _add(archive, generate(400, seed=71, now_ms=now_ms, spread_ms=5 * DAY_MS))
    export()
    # A bad entry of the emails queue: dead-lettered, in the dead-letter stream and the table.
    _add(archive, [{b"job_id": b"bad-email", b"queue": b"emails", b"outcome": b"exploded",
                    b"enqueue_time": str(now_ms).encode(), b"payload": b'{"to": "ada@example.com"}'}])
    export()
    assert DeadLetter.objects.count() == 1
    # Records delivered to an exporter that has not finished them (pending), and records not read yet.
    _add(archive, generate(300, seed=72, now_ms=now_ms, spread_ms=DAY_MS))
    archive.redis.xreadgroup(GROUP, "slow-exporter", {archive.stream: ">"}, count=150)
    assert archive.redis.xpending(archive.stream, GROUP)["pending"] == 150
    assert _emails_in_stream(archive.redis, archive.stream) > 0
    # The stream as it stands now, to bring back later (a failover that lost what followed).
    snapshot = archive.redis.dump(archive.stream)
    dead_snapshot = archive.redis.dump(f"{archive.stream}:dead")
    # A rehydrated copy of the cold days.
    copy = rehydration.rehydration_request(date_from=date(2026, 2, 20), date_to=date(2026, 3, 1), queues=[],
                                           expires_in=timedelta(days=1), actor=TESTS, via="test")
    copy.refresh_from_db()
    assert copy.state == "ready" and _emails_in(copy.table_name) > 0

    report = purge_approved("--older-than", "1d", "--queue", "emails")
    assert report["plan"]["records"] > 0

    # Later exports (the pending entries' consumer is long idle: they would be claimed) and runs.
    Exporter(claim_idle_ms=0).run()
    call_command("archive", "run", "--json", stdout=StringIO())
    for table in ("jobs_all", "jobs_archive", "jobs_cold", copy.table_name):
        assert _emails_in(table) == 0, table
    assert _emails_in_stream(archive.redis, archive.stream) == 0
    assert _emails_in_stream(archive.redis, f"{archive.stream}:dead") == 0
    assert not DeadLetter.objects.exists()
    # Then Redis loses what happened since the snapshot: the purged entries are back, pending again.
    archive.redis.restore(archive.stream, 0, snapshot, replace=True)
    archive.redis.restore(f"{archive.stream}:dead", 0, dead_snapshot, replace=True)
    Exporter(claim_idle_ms=0).run()

    assert _emails_in("jobs_all") == 0
    assert _emails_in("jobs_archive") == 0
    assert _emails_in("jobs_cold") == 0
    assert _emails_in(copy.table_name) == 0
    assert not DeadLetter.objects.filter(fields__queue="emails").exists()
    # What the lost writes brought back into Redis is removed again by the next purge or run, but it
    # never reached an archive: check the archive, and the stream after this run's own purge.
    purge_approved("--older-than", "1d", "--queue", "emails")
    assert _emails_in_stream(archive.redis, archive.stream) == 0
    assert _emails_in_stream(archive.redis, f"{archive.stream}:dead") == 0
    # Other queues are untouched, each record once.
    others = ch.query("SELECT count(), uniqExact(job_id, retries) FROM {db}.jobs_all", tag="test").result_rows[0]
    assert others[0] == others[1] > 0
