"""Legal holds: held records survive confirmed purges and retention runs in every place, and the
previews say which hold keeps what; a released hold lets them go."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from io import StringIO

from django.core.management import call_command

from apps.accounts.actors import Actor
from apps.approvals.services import approval_approve
from apps.compliance.models import LegalHold
from apps.compliance.services import hold_place, hold_release_request
from apps.retention.models import RetentionPolicy
from apps.retention.services import retention_run
from apps.warehouse import client as ch
from tests.actors import TESTS
from tests.retention.helpers import T0, export, four_eyes, jobs_all_counts, produce, purge_approved
from tests.roles import user_in


def _count(table: str, where: str = "1") -> int:
    return ch.query(f"SELECT count() FROM {{db}}.{table} WHERE {where}", tag="test").result_rows[0][0]


def _stream_queues(archive) -> list[str]:
    return [fields[b"queue"].decode() for _, fields in archive.redis.xrange(archive.stream)]


def test_held_records_survive_a_confirmed_purge_and_retention_runs(archive):
    sre, officer = four_eyes()
    records = produce(archive, 400, now=T0, days=10, seed=5)
    export()
    retention_run(actor=TESTS, dry_run=False, as_of=T0 + timedelta(days=3), steps=("tiering",))  # warm and cold
    emails = sum(r["queue"] == "emails" for r in records)
    picked = [r for r in records if r["queue"] == "reports"][:3]
    assert emails > 0 and _count("jobs_cold") > 0 and _count("jobs_archive") > 0

    out = StringIO()
    call_command("archive", "hold", "add", "--queue", "emails", "--reason", "litigation: Acme v. Us", "--by",
                 officer.username, "--format", "json", stdout=out)
    hold = json.loads(out.getvalue())
    assert hold["state"] == "active" and hold["id"]
    by_job = hold_place(actor=Actor.of_user(officer), reason="regulator's request 7",
                        job_ids=[r["job_id"] for r in picked])
    held = emails + len(picked)

    # The purge preview says which hold keeps what; the approved purge removes everything else.
    out = StringIO()
    call_command("archive", "purge", "--older-than", "1d", "--dry-run", "--json", stdout=out)
    plan = json.loads(out.getvalue())["plan"]
    assert plan["records"] == 400 - held
    assert {h["hold"]: h["records"] for h in plan["held"]} == {hold["id"]: emails, by_job.pk: len(picked)}
    assert "litigation: Acme v. Us" in plan["held"][0]["label"]
    report = purge_approved("--older-than", "1d")
    assert report["result"]["records"] == 400 - held
    assert jobs_all_counts() == (held, held)
    assert _count("jobs_all", "queue = 'emails'") == emails
    assert _count("jobs_archive") + _count("jobs_cold") >= held  # still in the tiers that held them

    # The retention run's own purge (a one-day cold limit) and Redis trimming keep them too.
    RetentionPolicy.objects.create(cold_days=1, redis_hours=1)
    later = datetime.now(timezone.utc) + timedelta(days=3)
    dry = retention_run(actor=TESTS, dry_run=True, as_of=later)
    assert dry.plan["purge"]["records"] == 0 and sum(h["records"] for h in dry.plan["purge"]["held"]) == held
    assert dry.plan["trim"]["held_entries"] == held
    assert {h["hold"].split(" ")[1] for h in dry.plan["trim"]["held"]} == {str(hold["id"]), str(by_job.pk)}
    retention_run(actor=TESTS, dry_run=False, as_of=later)
    assert jobs_all_counts() == (held, held)
    assert sorted(_stream_queues(archive)) == sorted(["emails"] * emails + ["reports"] * len(picked))

    # Released (after a second person approves), the next run lets them go.
    second = user_in("Compliance Officer", "second")
    for h in (hold["id"], by_job.pk):
        approval = hold_release_request(hold=LegalHold.objects.get(pk=h), actor=Actor.of_user(officer),
                                        reason="settled")
        approval_approve(approval=approval, actor=Actor.of_user(second))
    retention_run(actor=TESTS, dry_run=False, as_of=later)
    assert jobs_all_counts() == (0, 0) and _stream_queues(archive) == []


def test_a_hold_by_date_range_keeps_the_records_of_those_days(archive):
    _, officer = four_eyes()
    records = produce(archive, 200, now=T0, days=4, seed=8)
    export()
    day = (T0 - timedelta(days=2)).date()
    hold = hold_place(actor=Actor.of_user(officer), reason="tax audit", date_from=day, date_to=day)
    in_range = ch.query("SELECT count() FROM {db}.jobs_all WHERE toDate(enqueue_time) = {d:Date}", tag="test",
                        parameters={"d": day}).result_rows[0][0]
    assert 0 < in_range < len(records)
    report = purge_approved("--older-than", "1d")
    assert report["plan"]["held"][0]["hold"] == hold.pk and report["plan"]["held"][0]["records"] == in_range
    assert jobs_all_counts()[0] == in_range


def test_a_hold_by_subject_key_keeps_that_persons_records_in_every_tier(archive):
    from tests.erasure.helpers import EMAIL, PREFIX, add, subject_entry
    from tests.retention.helpers import DAY_MS

    _, officer = four_eyes()
    produce(archive, 100, now=T0, days=4, seed=9)
    now_ms = int(T0.timestamp() * 1000)
    add(archive, [subject_entry(i, now_ms - (i + 2) * DAY_MS) for i in range(3)])
    export()
    hold = hold_place(actor=Actor.of_user(officer), reason="subject's own complaint, case 9",
                      subjects=[f"email= {EMAIL.upper()}"])
    assert hold.subject_keys and EMAIL.lower() not in json.dumps(hold.subject_keys)
    report = purge_approved("--older-than", "1d")
    assert report["plan"]["held"][0]["hold"] == hold.pk and report["plan"]["held"][0]["records"] == 3
    for table in ("jobs_archive", "jobs_cold", "jobs_all"):
        kept = ch.query(f"SELECT count() FROM {{db}}.{table} WHERE startsWith(job_id, '{PREFIX}')",
                        tag="test").result_rows[0][0]
        assert kept == 3, table
    assert jobs_all_counts()[0] == 3
