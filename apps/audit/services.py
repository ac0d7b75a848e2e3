"""Writing to the audit chain: `audit_record`, inside the transaction of the change it records.

Writers are serialised by a transaction-scoped PostgreSQL advisory lock, taken just before the
head is read and held until the transaction ends, so two writers never link to the same head
(the chain never forks) and an event exists exactly when the change it records was committed.
Record the event as the last write of a transaction: everything audited waits for that lock
until the recording transaction commits, so keep what follows it short.
"""

from __future__ import annotations

import json

from django.db import connection, transaction
from django.utils import timezone

from apps.accounts.actors import Actor, require_permission
from apps.audit import chain
from apps.audit.models import GENESIS, AuditEvent

_LOCK = (0x41524348 << 32) | 3  # "ARCH" namespace, one-argument form (the retention runs' lock is 1)

# Keys that must never reach the chain: the audit trail holds ids and figures, not data.
_FORBIDDEN = {"payload", "error_msg", "email", "password", "token", "secret", "fields"}


class AuditDetailsError(ValueError):
    """Details that would put raw data into the chain (or cannot be written as canonical JSON)."""


def _plain(details: dict) -> dict:
    bad = sorted(_FORBIDDEN & _keys(details))
    if bad:
        raise AuditDetailsError(f"audit details may not hold {', '.join(bad)}: record ids and figures, not data")
    # Through JSON once, so what is hashed is exactly what the jsonb column gives back.
    return json.loads(json.dumps(details, default=str))


def _keys(value) -> set[str]:
    if isinstance(value, dict):
        return set(value) | {k for v in value.values() for k in _keys(v)}
    if isinstance(value, list):
        return {k for v in value for k in _keys(v)}
    return set()


def audit_record(*, actor: Actor, action: str, target: str = "", details: dict | None = None) -> AuditEvent:
    """Append one event to the chain, in the caller's transaction (or in its own when there is none)."""
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_LOCK])
        head = AuditEvent.objects.order_by("-seq").values_list("seq", "hash").first()
        seq, prev = (head[0] + 1, head[1]) if head else (1, GENESIS)
        event = AuditEvent(seq=seq, at=timezone.now(), actor=actor.label[:150], actor_user_id=actor.user_id,
                           via=actor.via[:16], action=action, target=target[:200],
                           details=_plain(details or {}), prev_hash=prev)
        event.hash = chain.event_hash(event)
        event.save(force_insert=True)
        return event


_ANCHOR_LOCK = (0x41524348 << 32) | 4  # one anchor at a time, so each digest links to the one before


def audit_anchor(*, actor: Actor):
    """Write a digest of the chain head to the locked bucket, then record `audit.anchored`.

    The event names the digest's key and hash, so verification can also check that every digest
    the chain says was written is still in the bucket. It comes after the digest (S3 first), so a
    digest never anchors its own event; if the commit fails after the upload, the locked digest
    stays and still matches the chain, and the next digest links to the one before it instead.
    """
    from apps.audit import anchors
    from apps.audit.selectors import last_digest

    require_permission(actor, "audit.verify_chain")
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_ANCHOR_LOCK])
        head = AuditEvent.objects.order_by("-seq").values_list("seq", "hash").first()
        if head is None:
            raise anchors.DigestError("the audit chain is empty: there is nothing to anchor yet")
        digest = anchors.write_digest(seq=head[0], head_hash=head[1], at=timezone.now(), previous=last_digest())
        audit_record(actor=actor, action="audit.anchored", target=f"digest:{digest.key}",
                     details={"key": digest.key, "seq": digest.seq, "hash": digest.hash,
                              "digest_hash": digest.digest_hash, "bucket": anchors.config().bucket})
    return digest


def audit_verify(*, actor: Actor):
    """Verify the chain and its digests (apps.audit.verify), and record the outcome as `audit.verified`."""
    from apps.audit.verify import chain_verify

    require_permission(actor, "audit.verify_chain")
    result = chain_verify()
    first = result.first_bad
    audit_record(actor=actor, action="audit.verified", target="chain",
                 details={"ok": result.ok, "events": result.events, "digests": result.digests,
                          "head_seq": result.head_seq, "first_bad_seq": first.seq if first else None,
                          "first_bad_digest": first.digest if first else None})
    return result


def audit_export(*, actor: Actor, filters) -> tuple[int, object]:
    """Events matching `filters`, oldest first, for a CSV file; records `audit.exported` with the count.

    Bounded by the head at the time of export, so the file holds exactly the rows the event
    counts (the export's own event is not in it).
    """
    from apps.audit.selectors import audit_events

    require_permission(actor, "audit.export_auditevent")
    events = audit_events(actor=actor, filters=filters).order_by("seq")
    with transaction.atomic():
        head = AuditEvent.objects.order_by("-seq").values_list("seq", flat=True).first() or 0
        events = events.filter(seq__lte=head)
        count = events.count()
        audit_record(actor=actor, action="audit.exported", target="audit-events",
                     details={"rows": count, "up_to_seq": head, "filters": filters.as_dict()})
    return count, events.iterator(chunk_size=2000)
