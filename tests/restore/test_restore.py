"""Restore into the live queue: dry runs change nothing, a second restore needs force, only payloads kept as
sent are restored, erased subjects never come back, roles are enforced, nothing is sent twice after a crash."""

from __future__ import annotations

import json
import time
from datetime import date, timedelta

import pytest
from django.core.exceptions import PermissionDenied
from django.core.management import CommandError, call_command

from apps.accounts.actors import Actor
from apps.audit.models import AuditEvent
from apps.exports.exporter import Exporter
from apps.restore import services
from apps.restore.adapters import Refusal
from apps.restore.models import RestoredAttempt, RestoreState
from apps.retention.models import RetentionPolicy
from tests.restore_target import TASK
from tests.roles import user_in

FULL, SAMPLED = "orders", "mailers"
CALL = {"args": [42, "EUR"], "kwargs": {"priority": "high"}}


def _entry(job_id: str, queue: str, payload: dict, *, outcome: str = "failed", retries: int = 0, **extra) -> dict:
    now = int(time.time() * 1000)
    return {"job_id": job_id, "queue": queue, "outcome": outcome, "retries": str(retries),
            "enqueue_time": str(now - 60_000 + retries), "end_time": str(now), "payload": json.dumps(payload),
            "tags": json.dumps({"task": TASK}), **extra}


@pytest.fixture
def jobs(archive):
    """In `orders` whole payloads are kept; in `mailers` a redacted sample of failures only."""
    RetentionPolicy.objects.create(queue=FULL, payload_mode="full")
    RetentionPolicy.objects.create(queue=SAMPLED, payload_mode="sample", sample_rate=0.0)
    entries = [
        _entry("order-1", FULL, CALL),
        _entry("order-2", FULL, CALL, retries=0), _entry("order-2", FULL, {"args": [2]}, retries=1),
        _entry("order-pii", FULL, {"args": ["ada@example.com"]}),  # redaction changes it
        _entry("mail-ok", SAMPLED, {"args": [1]}, outcome="success"),  # no sample kept of a success
        _entry("order-erased", FULL, {"args": [7], "customer_id": "cust-9"}),
    ]
    for fields in entries:
        archive.redis.xadd(archive.stream, fields)
    Exporter().run()
    yield archive
    for key in archive.redis.scan_iter(f"{archive.stream}:live*"):
        archive.redis.delete(key)


@pytest.fixture
def sre():
    return Actor.of_user(user_in("SRE", "sam"))


def _key(archive, name: str) -> str:
    """A Redis key of this test's own (the test Redis database is shared by every test)."""
    return f"{archive.stream}:{name}"


def _list(archive, key: str) -> list[bytes]:
    return archive.redis.lrange(key, 0, -1)


def _run(actor, **kwargs) -> dict:
    restore = services.restore_submit(actor=actor, **kwargs)
    return services.restore_execute(restore_id=str(restore.pk))


def test_a_dry_run_changes_nothing_and_the_restore_sends_the_payload_as_sent(jobs, sre):
    preview = _run(sre, adapter="list", target=_key(jobs, "live:orders"), job_ids=["order-1"], dry_run=True)
    assert preview["state"] == RestoreState.PREVIEWED and preview["restored"] == 1 and preview["refused"] == 0
    assert preview["lines"] == [{"job_id": "order-1", "retries": 0, "result": "would restore"}]
    assert _list(jobs, _key(jobs, "live:orders")) == [] and not RestoredAttempt.objects.exists()

    done = _run(sre, adapter="list", target=_key(jobs, "live:orders"), job_ids=["order-1"])
    assert done["state"] == RestoreState.DONE and done["restored"] == 1
    assert [json.loads(b) for b in _list(jobs, _key(jobs, "live:orders"))] == [CALL]


def test_restoring_the_same_attempt_again_needs_force(jobs, sre):
    _run(sre, adapter="list", target=_key(jobs, "live:orders"), job_ids=["order-1"])
    again = _run(sre, adapter="list", target=_key(jobs, "live:orders"), job_ids=["order-1"])
    assert again["restored"] == 0 and again["refused"] == 1
    assert list(again["reasons"]) == [services.ALREADY]
    assert len(_list(jobs, _key(jobs, "live:orders"))) == 1
    forced = _run(sre, adapter="list", target=_key(jobs, "live:orders"), job_ids=["order-1"], force=True)
    assert forced["restored"] == 1 and len(_list(jobs, _key(jobs, "live:orders"))) == 2


def test_a_job_restores_its_latest_attempt(jobs, sre):
    done = _run(sre, adapter="stream", target=_key(jobs, "live-stream"), job_ids=["order-2"])
    assert done["restored"] == 1
    [(_, fields)] = jobs.redis.xrange(_key(jobs, "live-stream"))
    assert fields[b"job_id"] == b"order-2" and fields[b"retries"] == b"1" and fields[b"task"] == TASK.encode()
    assert json.loads(fields[b"payload"]) == {"args": [2]} and fields[b"restored_by"] == done["id"].encode()


def test_payloads_not_kept_as_sent_and_missing_jobs_are_refused_with_the_reason(jobs, sre):
    done = _run(sre, adapter="list", target=_key(jobs, "live:x"),
                job_ids=["order-pii", "mail-ok", "nobody", "order-1"])
    assert done["restored"] == 1 and done["refused"] == 3
    assert done["reasons"] == {services.SAMPLE_ONLY: 1, services.HASH_ONLY: 1, services.NOT_FOUND: 1}
    by_job = {line["job_id"]: line["result"] for line in done["lines"]}
    assert by_job == {"order-pii": "refused", "mail-ok": "refused", "nobody": "refused", "order-1": "restored"}
    assert [json.loads(b) for b in _list(jobs, _key(jobs, "live:x"))] == [CALL]


def test_erased_subjects_are_refused(jobs, sre):
    from apps.compliance.subject_keys import key_hash
    from apps.erasure import tombstones
    from apps.erasure.models import ErasureRequest

    officer = user_in("Compliance Officer", "cora")
    request = ErasureRequest.objects.create(requested_by=officer, reason="ticket", legal_basis="art. 17",
                                            due_on=date.today() + timedelta(days=30), criteria={})
    tombstones.remember(request, key_hashes=[key_hash("customer_id", "cust-9")], job_ids=["order-1"])
    done = _run(sre, adapter="list", target=_key(jobs, "live:x"), job_ids=["order-erased", "order-1"])
    assert done["restored"] == 0 and done["reasons"] == {services.ERASED: 2}
    assert all(f"erasure request {request.pk}" in line["reason"] for line in done["lines"])
    assert _list(jobs, _key(jobs, "live:x")) == []


def test_a_set_is_counted_first_and_refused_when_its_count_changed(jobs, sre):
    from datetime import datetime, timezone

    span = {"queue": FULL, "outcome": "failed", "start": datetime(2000, 1, 1, tzinfo=timezone.utc),
            "end": datetime.now(timezone.utc) + timedelta(hours=1)}
    preview = _run(sre, adapter="list", target=_key(jobs, "live:set"), dry_run=True, **span)
    assert preview["selected"] == 4 and preview["restored"] == 3  # order-pii's payload was redacted
    assert preview["lines"] == [] and _list(jobs, _key(jobs, "live:set")) == []
    stale = _run(sre, adapter="list", target=_key(jobs, "live:set"), expected_count=3, **span)
    assert stale["state"] == RestoreState.REFUSED and "holds 4 jobs, not the 3 expected" in stale["error"]
    done = _run(sre, adapter="list", target=_key(jobs, "live:set"), expected_count=4, **span)
    assert done["state"] == RestoreState.DONE and done["restored"] == 3 and len(_list(jobs, _key(jobs, "live:set"))) == 3


def test_only_sre_and_administrator_restore(jobs):
    for role in ("Viewer", "Analyst", "Compliance Officer"):
        with pytest.raises(PermissionDenied):
            services.restore_submit(actor=Actor.of_user(user_in(role)), adapter="list", target=_key(jobs, "live"),
                                    job_ids=["order-1"])
    admin = Actor.of_user(user_in("Administrator", "root"))
    assert _run(admin, adapter="list", target=_key(jobs, "live"), job_ids=["order-1"])["restored"] == 1


def test_bad_requests_are_refused_before_anything_is_recorded(jobs, sre):
    before = AuditEvent.objects.count()
    for kwargs, message in (
            ({"adapter": "list", "job_ids": ["order-1"]}, "needs --target"),
            ({"adapter": "stream", "target": jobs.stream, "job_ids": ["order-1"]}, "archive's own stream"),
            ({"adapter": "kafka", "job_ids": ["order-1"]}, "must be one of"),
            ({"adapter": "list", "target": "q", "queue": FULL}, "missing --status, --from, --to DATE"),
            ({"adapter": "celery", "target": "not a name!", "job_ids": ["x"]}, "not a Celery task name")):
        with pytest.raises(Refusal, match=message):
            services.restore_submit(actor=sre, **kwargs)
    assert AuditEvent.objects.count() == before


def test_a_restore_resumed_after_a_crash_sends_nothing_twice(jobs, sre):
    restore = services.restore_submit(actor=sre, adapter="list", target=_key(jobs, "live:crash"),
                                      job_ids=["order-1", "order-2"])
    # The crash: order-1 was recorded as being sent, then the worker died (was it sent? nobody knows).
    from apps.restore.models import Restore

    RestoredAttempt.objects.create(restore=restore, attempt_hash=services.attempt_hash("order-1", 0))
    Restore.objects.filter(pk=restore.pk).update(state=RestoreState.RUNNING)
    done = services.restore_execute(restore_id=str(restore.pk))
    assert done["restored"] == 1 and done["reasons"] == {services.SENT_BEFORE_CRASH: 1}
    assert [json.loads(b) for b in _list(jobs, _key(jobs, "live:crash"))] == [{"args": [2]}]
    assert services.restore_execute(restore_id=str(restore.pk)) == done  # ended: runs nothing again


def test_the_cli_refuses_with_the_reason_and_audits_under_the_user(jobs):
    user_in("SRE", "sam")
    call_command("archive", "restore", "order-1", "--to", "list", "--target", _key(jobs, "live:cli"), "--by", "sam")
    assert len(_list(jobs, _key(jobs, "live:cli"))) == 1
    with pytest.raises(CommandError, match="1 of 1 refused: 1 already restored"):
        call_command("archive", "restore", "order-1", "--to", "list", "--target", _key(jobs, "live:cli"), "--by", "sam")
    with pytest.raises(CommandError, match="refused: 1 the kept payload is a redacted or cut sample"):
        call_command("archive", "restore", "order-pii", "--to", "list", "--target", _key(jobs, "live:cli"), "--by", "sam",
                     "--dry-run")
    with pytest.raises(CommandError, match="2 of 4 refused"):
        call_command("archive", "restore", "--queue", FULL, "--status", "failed", "--from", "2000-01-01", "--to", "now",
                     "--to", "list", "--target", _key(jobs, "live:cli"), "--dry-run", "--by", "sam", "--format", "json")
    assert len(_list(jobs, _key(jobs, "live:cli"))) == 1
    user_in("Analyst", "ana")
    with pytest.raises(CommandError, match="permission"):
        call_command("archive", "restore", "order-1", "--to", "list", "--target", _key(jobs, "live:cli"), "--by", "ana")
    actions = list(AuditEvent.objects.filter(action__startswith="restore.").values_list("actor", "action"))
    assert ("sam", "restore.done") in actions and ("sam", "restore.previewed") in actions
    assert "order-1" not in json.dumps(list(AuditEvent.objects.filter(action__startswith="restore.")
                                            .values_list("details", flat=True)))
