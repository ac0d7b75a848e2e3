"""Reading legal holds: the active ones as record criteria (for every removal), overdue reviews."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone

from django.db.models import QuerySet

from apps.compliance.models import HoldState, LegalHold
from apps.places.selection import Held


def _start(day: date | None) -> datetime | None:
    return datetime.combine(day, time(), tzinfo=timezone.utc) if day else None


def held(hold: LegalHold) -> Held:
    """A hold as the criteria the places match records by (its date range, whole UTC days)."""
    return Held(hold_id=hold.pk, label=f"hold {hold.pk} ({hold.criteria_label}): {hold.reason[:80]}",
                queue=hold.queue or None, tenant=hold.tenant or None, job_ids=tuple(hold.job_ids),
                key_hashes=tuple(hold.subject_keys),
                start=_start(hold.date_from), end=_start(hold.date_to + timedelta(days=1)) if hold.date_to else None)


def active_holds() -> list[Held]:
    return [held(h) for h in LegalHold.objects.filter(state=HoldState.ACTIVE).order_by("pk")]


def holds_listed(*, state: str | None = None) -> QuerySet[LegalHold]:
    holds = LegalHold.objects.select_related("owner", "placed_by", "released_by")
    return holds.filter(state=state) if state else holds


def holds_overdue(today: date | None = None) -> QuerySet[LegalHold]:
    today = today or datetime.now(timezone.utc).date()
    return holds_listed(state=HoldState.ACTIVE).filter(review_on__lt=today)


def hold_criteria(hold: LegalHold) -> dict:
    return {"queue": hold.queue, "tenant": hold.tenant, "job_ids": list(hold.job_ids),
            "subject_keys": list(hold.subject_keys),
            "date_from": hold.date_from.isoformat() if hold.date_from else None,
            "date_to": hold.date_to.isoformat() if hold.date_to else None}


def hold_as_dict(hold: LegalHold) -> dict:
    return {"id": hold.pk, "state": hold.state, "criteria": hold_criteria(hold), "label": hold.criteria_label,
            "reason": hold.reason, "owner": hold.owner.get_username(), "review_on": hold.review_on.isoformat(),
            "placed_by": hold.placed_by.get_username(), "placed_at": hold.placed_at.isoformat(),
            "released_by": hold.released_by.get_username() if hold.released_by else None,
            "released_at": hold.released_at.isoformat() if hold.released_at else None,
            "release_reason": hold.release_reason}
