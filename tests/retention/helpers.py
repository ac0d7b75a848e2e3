"""Shared steps for the retention tests: produce records at simulated times, export them, count per tier."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta, timezone

from apps.exports.exporter import Exporter
from apps.stream.demo import generate
from apps.warehouse import client as ch

DAY_MS = 86_400_000
T0 = datetime(2026, 3, 1, tzinfo=timezone.utc)


def produce(archive, n: int, *, now: datetime, days: int, seed: int) -> list[dict]:
    """n records enqueued over the `days` days before `now`; returns them as (job_id, retries, queue, outcome, ms)."""
    entries = generate(n, seed=seed, now_ms=int(now.timestamp() * 1000), spread_ms=days * DAY_MS - 60_000)
    pipe = archive.redis.pipeline()
    for fields in entries:
        pipe.xadd(archive.stream, fields)
    pipe.execute()
    return [{"job_id": e[b"job_id"].decode(), "retries": int(e[b"retries"]), "queue": e[b"queue"].decode(),
             "outcome": e[b"outcome"].decode(), "ms": int(e[b"enqueue_time"])} for e in entries]


def export() -> None:
    summary = Exporter(batch_size=2000).run()
    assert not summary.errors, summary.errors


def jobs_all_counts() -> tuple[int, int]:
    """(records, distinct record ids) in jobs_all."""
    n, distinct = ch.query("SELECT count(), uniqExact(job_id, retries) FROM {db}.jobs_all", tag="test").result_rows[0]
    return int(n), int(distinct)


def per_pair(table: str = "jobs_all") -> Counter:
    rows = ch.query(f"SELECT toString(queue), toString(outcome), count() FROM {{db}}.{table} GROUP BY 1, 2",
                    tag="test").result_rows
    return Counter({(q, o): int(n) for q, o, n in rows})


def warm_days() -> list[str]:
    rows = ch.query("SELECT DISTINCT toString(toDate(enqueue_time)) AS d FROM {db}.jobs_archive ORDER BY d",
                    tag="test").result_rows
    return [r[0] for r in rows]


def days(n: float) -> timedelta:
    return timedelta(days=n)


def four_eyes():
    """The two people a manual purge takes: an SRE who asks, a compliance officer who approves."""
    from django.contrib.auth.models import User

    from tests.roles import user_in

    sre = User.objects.filter(username="sre").first() or user_in("SRE")
    officer = User.objects.filter(username="compliance_officer").first() or user_in("Compliance Officer")
    return sre, officer


def purge_approved(*purge_args: str) -> dict:
    """`archive purge ... --confirm --by SRE` (which asks, printing "approval <ID>" last), then
    `archive approval approve ID --by OFFICER`; the purge run's report."""
    import json
    from io import StringIO

    from django.core.management import call_command

    sre, officer = four_eyes()
    out = StringIO()
    call_command("archive", "purge", *purge_args, "--confirm", "--by", sre.username, stdout=out, stderr=StringIO())
    last = out.getvalue().strip().splitlines()[-1]
    assert last.startswith("approval "), out.getvalue()
    out = StringIO()
    call_command("archive", "approval", "approve", last.split()[1], "--by", officer.username, "--format", "json",
                 stdout=out, stderr=StringIO())
    return json.loads(out.getvalue())["run_report"]
