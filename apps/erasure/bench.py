"""`archive bench --erasure`: how long an approved erasure takes, approval to verified, on a full archive.

Records are spread over `days` days (60 by default) and exported, one subject's among them (1000
records over every day, an email in the payload); tiering moves the days past the 30-day warm window
to the cold tier only and compaction rewrites the closed days, as the tiers bench does, and the
stream is trimmed as a retention run a day later would (Redis keeps hours, not months). Then two
compliance officers (bench_officer_a/b, made when missing) file, preview and approve a request for
the subject, and it runs in this process to its certificate. Runs in the same isolation as the
export bench; its request, tombstones and approval are deleted afterwards (audit events stay).
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta, timezone

from django.conf import settings

from apps.exports.bench import _fill, bench_policies, isolated_archive
from apps.stream import client as streams
from apps.stream.demo import generate

DAY_MS = 86_400_000
CHUNK = 100_000
OFFICERS = ("bench_officer_a", "bench_officer_b")
ROLE = "Compliance Officer"


def _subject_entries(n: int, *, email: str, now_ms: int, days: int) -> list[dict[bytes, bytes]]:
    """The subject's records, evenly over the days (every day holds some when n >= days)."""
    step = days * DAY_MS // n
    return [{b"job_id": f"bench-subject-{i}".encode(), b"queue": b"emails", b"outcome": b"success",
             b"enqueue_time": str(now_ms - i * step - step // 2).encode(), b"retries": b"0",
             b"tenant_id": b"tenant-bench", b"payload": json.dumps({"email": email, "n": i}).encode()}
            for i in range(n)]


def _officers():
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group

    from apps.accounts.actors import Actor

    group = Group.objects.filter(name=ROLE).first()
    if group is None:
        raise RuntimeError(f"no group {ROLE!r}: run `manage.py migrate` first")
    actors = []
    for name in OFFICERS:
        user, made = get_user_model().objects.get_or_create(username=name)
        if made:
            user.set_unusable_password()
            user.save(update_fields=["password"])
        user.groups.add(group)
        actors.append(Actor.of_user(user, via="bench"))
    return actors


def _check_rules() -> None:
    from apps.compliance.subject_key_rules import rules

    if not any(r.name == "email" and r.source == "payload" and r.field == "email" for r in rules()):
        raise RuntimeError("the erasure bench names its subject by email: it needs the subject key rule "
                           "email (payload field email), one of the defaults (`archive subject-keys get`)")


def _forget(request_id: int | None) -> None:
    """The bench's request and what hangs off it; the audit chain keeps its events (it cannot change)."""
    from apps.approvals.models import Approval
    from apps.erasure.models import ErasureRequest, LateRecord, Tombstone

    request = ErasureRequest.objects.filter(pk=request_id).first() if request_id else None
    if request is None:
        return
    LateRecord.objects.filter(request=request).delete()
    Tombstone.objects.filter(request=request).delete()
    approval_id = request.approval_id
    request.delete()
    Approval.objects.filter(pk=approval_id).delete()


def run_erasure_bench(*, records: int, days: int = 60, warm_days: int = 30, subject_records: int = 1000,
                      log: Callable[[str], None] = print) -> dict:
    from django.test.utils import override_settings

    if records < subject_records:
        raise ValueError(f"--records must be at least the subject's {subject_records}")
    _check_rules()
    officer_a, officer_b = _officers()
    r = streams.connection()
    now = datetime(2026, 6, 1, tzinfo=timezone.utc)
    now_ms = int(now.timestamp() * 1000)
    email = f"bench-subject-{uuid.uuid4().hex[:12]}@example.invalid"  # nobody real: its tombstone matches nothing else
    request_id = None
    with isolated_archive(log, ARCHIVE_WARM_DAYS=warm_days, ARCHIVE_TIERING_GRACE_SECONDS=0,
                          ARCHIVE_ORPHAN_MIN_AGE_SECONDS=0) as stream, override_settings():
        from apps.erasure import services
        from apps.erasure.execution import STEPS, counts, execute
        from apps.erasure.models import ErasureRequest
        from apps.exports.exporter import Exporter
        from apps.lake import maintenance
        from apps.retention import runner
        from apps.retention.resolution import PolicyBook

        try:
            log(f"generating and exporting {records} records over {days} days, {subject_records} of one subject")
            started = time.perf_counter()
            subject = _subject_entries(subject_records, email=email, now_ms=now_ms, days=days)
            background = records - subject_records
            chunks = max(1, -(-background // CHUNK))
            exported = 0
            for chunk in range(chunks):
                size = min(CHUNK, background - chunk * CHUNK)
                entries = generate(size, seed=9000 + chunk, now_ms=now_ms, spread_ms=days * DAY_MS) if size > 0 else []
                entries += subject[chunk::chunks]
                _fill(r, stream, entries)
                del entries
                exported += Exporter(batch_size=CHUNK, policies=bench_policies()).run().records
            if exported != records:
                raise RuntimeError(f"exported {exported} of {records} records")
            load_seconds = time.perf_counter() - started

            book = PolicyBook([])
            log("tiering, compacting, and trimming the stream as the retention runs would")
            started = time.perf_counter()
            runner.apply_run(runner.plan_run(book, now, ("tiering",)))
            files_before = maintenance.table_size()["files"]
            runner.apply_run(runner.plan_run(book, now + timedelta(days=1), ("compaction",)))  # none: one file a day
            files_after = maintenance.table_size()["files"]
            day_later = datetime.now(timezone.utc) + timedelta(hours=settings.ARCHIVE_REDIS_RETENTION_HOURS + 1)
            runner.apply_run(runner.plan_run(book, day_later, ("trim",)))
            lifecycle_seconds = time.perf_counter() - started

            log("filing and previewing the erasure request")
            request = services.erasure_file(actor=officer_a, legal_basis="GDPR art. 17(1)(a)",
                                            reason="archive bench --erasure", subjects=[f"email={email}"])
            request_id = request.pk
            started = time.perf_counter()
            preview = services.erasure_preview(request_id=request.pk, actor=officer_a)["preview"]
            preview_seconds = time.perf_counter() - started

            log("approving it and running it to its certificate")
            approved_at = time.time()
            services.erasure_approve(request=request, actor=officer_b, submit=False)
            execute(request.pk)
            request = ErasureRequest.objects.get(pk=request.pk)
            if request.verified_at is None:
                raise RuntimeError(f"{request.reference} was not verified: {request.state}, {request.error}")
            cold = request.steps["cold"]["result"]
            return {
                "records": records,
                "days": days,
                "warm_days": warm_days,
                "subject_records": subject_records,
                "seconds_approval_to_verified": round(request.verified_at.timestamp() - approved_at, 2),
                "step_seconds": {name: request.steps.get(name, {}).get("seconds") for name in STEPS},
                "files_rewritten": cold["files_rewritten"],
                "files_in_table": cold["files_in_table"],
                "days_holding_subject": len(preview["partitions"]["cold"]),
                "warm_days_holding_subject": len(preview["partitions"]["warm"]),
                "snapshots_expired": cold["snapshots_expired"],
                "verification_passed": bool(request.verification.get("passed")),
                "state": request.state,
                "removed": counts(request),
                "preview_counts": preview["counts"],
                "preview_seconds": round(preview_seconds, 2),
                "load_seconds": round(load_seconds, 2),
                "lifecycle_seconds": round(lifecycle_seconds, 2),
                "compaction_files_before_after": [files_before, files_after],
            }
        finally:
            _forget(request_id)

