"""Reading erasure requests: lists by state, overdue ones, one as plain data (`archive erasure show`)."""

from __future__ import annotations

from datetime import date, datetime, timezone

from django.db.models import QuerySet

from apps.erasure import criteria
from apps.erasure.models import OPEN_STATES, ErasureRequest, ErasureState, LateRecord


def requests_listed(*, state: str | None = None) -> QuerySet[ErasureRequest]:
    found = ErasureRequest.objects.select_related("requested_by", "approval", "approval__decided_by")
    return found.filter(state=state) if state else found


def requests_open() -> QuerySet[ErasureRequest]:
    return requests_listed().filter(state__in=OPEN_STATES).order_by("due_on", "pk")


def requests_overdue(today: date | None = None) -> QuerySet[ErasureRequest]:
    today = today or datetime.now(timezone.utc).date()
    return requests_open().filter(due_on__lt=today)


def recent_certificates(limit: int = 5) -> QuerySet[ErasureRequest]:
    return requests_listed().exclude(certificate_sha256="").order_by("-completed_at")[:limit]


def is_overdue(request: ErasureRequest, today: date | None = None) -> bool:
    today = today or datetime.now(timezone.utc).date()
    return request.state in OPEN_STATES and request.due_on < today


def step_progress(request: ErasureRequest) -> list[dict]:
    """Each step with its state for people: done, running, failed or waiting, and its result."""
    from apps.erasure.execution import STEPS

    rows = []
    for name in STEPS:
        step = request.steps.get(name, {})
        if step.get("done"):
            state = "done"
        elif request.step == name and request.state == ErasureState.FAILED:
            state = "failed"
        elif request.step == name and request.state == ErasureState.EXECUTING:
            state = "running"
        else:
            state = "waiting"
        rows.append({"name": name, "state": state, "result": step.get("result"), "error": step.get("error", ""),
                     "seconds": step.get("seconds")})
    return rows


def erasure_as_dict(request: ErasureRequest) -> dict:
    from apps.erasure.execution import counts

    approval = request.approval
    verification = request.verification or {}
    return {
        "id": request.pk, "reference": request.reference, "state": request.state, "step": request.step,
        "error": request.error, "requested_by": request.requested_by.get_username(),
        "approved_by": approval.decided_by.get_username() if approval and approval.decided_by and
        approval.state == "approved" else None,
        "approval": approval.pk if approval else None,
        "legal_basis": request.legal_basis, "due_on": request.due_on.isoformat(), "overdue": is_overdue(request),
        "criteria": criteria.label(request.criteria), "hashed": request.hashed,
        "preview": request.preview, "counts": counts(request), "held": (request.preview or {}).get("held", []),
        "late_dropped": LateRecord.objects.filter(request=request).count(),
        "attempts": request.attempts,
        "steps": [{k: v for k, v in s.items() if k != "result"} | {"result": s["result"]} for s in step_progress(request)],
        "verification": {"passed": bool(verification.get("passed")), **{k: v for k, v in verification.items()
                                                                          if k != "passed"}},
        "certificate_sha256": request.certificate_sha256 or None,
        "created_at": request.created_at.isoformat(),
        "completed_at": request.completed_at.isoformat() if request.completed_at else None,
    }
