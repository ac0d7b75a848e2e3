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

from apps.accounts.actors import Actor
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
