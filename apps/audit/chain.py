"""How an event is hashed: SHA-256 over the RFC 8785 canonical JSON of its fields and the previous hash.

Pure functions, shared by the writer and by verification, so both agree byte for byte.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timezone

import rfc8785

FIELDS = ("seq", "at", "actor", "actor_user_id", "via", "action", "target", "details", "prev_hash")


def moment(value: datetime) -> str:
    """UTC, microseconds, `Z`: one spelling for a moment, whatever time zone it came in."""
    return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def canonical(event) -> bytes:
    """The event's canonical JSON (an AuditEvent or anything with the same attributes)."""
    document = {name: getattr(event, name) for name in FIELDS}
    document["at"] = moment(event.at)
    return rfc8785.dumps(document)


def event_hash(event) -> str:
    return hashlib.sha256(canonical(event)).hexdigest()


def content_hash(document) -> str:
    """SHA-256 of any JSON document's canonical form (approvals bind to it, digests chain by it)."""
    return hashlib.sha256(rfc8785.dumps(document)).hexdigest()
