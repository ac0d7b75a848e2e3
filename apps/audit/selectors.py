"""Reading the audit chain: filtered events (with the permission check), the last digest, and the chain's status."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime

from django.conf import settings
from django.db.models import QuerySet

from apps.accounts.actors import Actor, require_permission
from apps.audit import chain
from apps.audit.models import AuditEvent

# What a row of the CSV and JSON listings holds: every hashed field and the hash, so anyone can
# recompute the chain from an export alone.
COLUMNS = (*chain.FIELDS, "hash")


@dataclass(frozen=True)
class EventFilter:
    """actor: exact (any case); action: a prefix ("retention." finds every retention event); target: a part."""

    actor: str = ""
    action: str = ""
    target: str = ""
    since: datetime | None = None
    until: datetime | None = None

    def as_dict(self) -> dict:
        return {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in asdict(self).items() if v}


def audit_events(*, actor: Actor, filters: EventFilter = EventFilter()) -> QuerySet[AuditEvent]:
    """Events matching `filters`, newest first; the actor must be allowed to view the audit trail."""
    require_permission(actor, "audit.view_auditevent")
    events = AuditEvent.objects.order_by("-seq")
    if filters.actor:
        events = events.filter(actor__iexact=filters.actor)
    if filters.action:
        events = events.filter(action__istartswith=filters.action)
    if filters.target:
        events = events.filter(target__icontains=filters.target)
    if filters.since:
        events = events.filter(at__gte=filters.since)
    if filters.until:
        events = events.filter(at__lt=filters.until)
    return events


def event_row(event: AuditEvent) -> dict:
    row = {name: getattr(event, name) for name in COLUMNS}
    row["at"] = chain.moment(event.at)
    return row


def last_digest():
    """The digest the newest `audit.anchored` event names, in the current audit bucket (None before the first)."""
    from apps.audit.anchors import Digest

    event = (AuditEvent.objects.filter(action="audit.anchored", details__bucket=settings.S3_AUDIT_BUCKET)
             .order_by("-seq").first())
    if event is None:
        return None
    d = event.details
    return Digest(key=d["key"], version_id=None, seq=d["seq"], hash=d["hash"], at=chain.moment(event.at),
                  previous_key=None, previous_hash=None, digest_hash=d["digest_hash"])


@dataclass(frozen=True)
class ChainStatus:
    head_seq: int
    head_at: datetime | None
    last_digest_at: datetime | None
    last_digest_seq: int | None
    last_verified_at: datetime | None
    last_verified_ok: bool | None
    last_verified_first_bad: int | None


def chain_status() -> ChainStatus:
    """What a status page shows: the head, the last digest and the last verification (from the chain itself)."""
    head = AuditEvent.objects.order_by("-seq").values_list("seq", "at").first()
    anchored = AuditEvent.objects.filter(action="audit.anchored").order_by("-seq").first()
    verified = AuditEvent.objects.filter(action="audit.verified").order_by("-seq").first()
    return ChainStatus(
        head_seq=head[0] if head else 0, head_at=head[1] if head else None,
        last_digest_at=anchored.at if anchored else None,
        last_digest_seq=anchored.details.get("seq") if anchored else None,
        last_verified_at=verified.at if verified else None,
        last_verified_ok=verified.details.get("ok") if verified else None,
        last_verified_first_bad=verified.details.get("first_bad_seq") if verified else None,
    )
