"""Reading erasure requests: lists by state, overdue ones, one as plain data (`archive erasure show`),
and one as its pages show it (criteria, places, progress)."""

from __future__ import annotations

from datetime import date, datetime, timezone

from django.db.models import Count, QuerySet

from apps.erasure import criteria
from apps.erasure.models import OPEN_STATES, ErasureRequest, ErasureState, LateRecord

# Every place the archive keeps a subject's records, as people call them (keys: survey.COUNT_KEYS).
PLACE_LABELS = {
    "stream": "Redis stream (pending and unread entries)",
    "dead_letters": "Dead letters (stream and rows)",
    "warm": "Warm tier (ClickHouse jobs_archive)",
    "cold": "Cold tier (Iceberg files, snapshots, old versions)",
    "rehydrated": "Rehydrated tables",
    "copies": "Stored copies (subject-access bundles)",
    "subject_index": "Subject index (rows)",
}
# While a request is in these states the worker has its next move: its page follows it.
MOVING_STATES = (ErasureState.APPROVED, ErasureState.EXECUTING, ErasureState.VERIFIED)


def requests_listed(*, state: str | None = None) -> QuerySet[ErasureRequest]:
    found = ErasureRequest.objects.select_related("requested_by", "approval", "approval__decided_by")
    return found.filter(state=state) if state else found


def requests_open() -> QuerySet[ErasureRequest]:
    return requests_listed().filter(state__in=OPEN_STATES).order_by("due_on", "pk")


def requests_overdue(today: date | None = None) -> QuerySet[ErasureRequest]:
    today = today or datetime.now(timezone.utc).date()
    return requests_open().filter(due_on__lt=today)


def open_by_state() -> list[tuple[str, int]]:
    """How many open requests are in each state, in the order a request goes through them."""
    counted = dict(requests_open().order_by().values_list("state").annotate(n=Count("pk")))
    return [(ErasureState(state).label, counted[state]) for state in OPEN_STATES if counted.get(state)]


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


def is_moving(request: ErasureRequest) -> bool:
    """The worker is (or will be) at work on it: its preview is being counted, or it runs."""
    waiting_for_preview = request.state == ErasureState.SUBMITTED and request.approval_id is None
    return waiting_for_preview or request.state in MOVING_STATES


def criteria_shown(request: ErasureRequest) -> list[tuple[str, list[str]]]:
    """What the request names, row by row: every identifier as typed while it is open, only how
    many there were once it has ended (the identifiers are gone then)."""
    typed = request.criteria
    rows = [("Subjects", typed.get("subjects")), ("Job ids", typed.get("job_ids")),
            ("Trace ids", typed.get("trace_ids")), ("Payload hashes", typed.get("payload_hashes"))]
    if typed.get("scrubbed"):
        shown = [(name, [f"{n}: only their keyed hashes are kept"]) for name, n in rows if n]
    else:
        shown = [(name, list(values)) for name, values in rows if values]
    if typed.get("tenant"):
        shown.append(("Tenant", [typed["tenant"]]))
    if typed.get("date_from") or typed.get("date_to"):
        shown.append(("Enqueued", [f"{typed.get('date_from') or '...'} to {typed.get('date_to') or '...'} (UTC)"]))
    return shown


def places_shown(request: ErasureRequest) -> list[dict]:
    """Per place: what the preview counted, what the run removed, what the verification found."""
    from apps.erasure.execution import counts

    previewed = (request.preview or {}).get("counts", {})
    removed = counts(request) if request.steps else {}
    checked = (request.verification or {}).get("places", {})
    return [{"place": place, "label": label, "previewed": previewed.get(place), "removed": removed.get(place),
             "verification": checked.get(place)} for place, label in PLACE_LABELS.items()]


def _summary(result) -> str:
    if not isinstance(result, dict):
        return ""
    return ", ".join(f"{key.replace('_', ' ')}: {value}" for key, value in result.items()
                     if isinstance(value, (int, float, str)) and not isinstance(value, bool))


def steps_shown(request: ErasureRequest) -> list[dict]:
    """`step_progress` with each result said in one line (its counts), for the page."""
    return [{**step, "summary": _summary(step["result"])} for step in step_progress(request)]


def erasure_progress(request: ErasureRequest) -> dict:
    """What the detail page polls while the worker is at it (no identifier in it)."""
    return {"id": request.pk, "reference": request.reference, "state": request.state,
            "state_label": request.get_state_display(), "step": request.step, "moving": is_moving(request),
            "previewed": bool(request.preview), "approval": request.approval_id,
            "steps": [{"name": s["name"], "state": s["state"], "seconds": s["seconds"], "error": s["error"],
                       "summary": s["summary"]} for s in steps_shown(request)]}
