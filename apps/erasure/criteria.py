"""An erasure request's criteria: read from input, checked, hashed, and turned into a `Subject`.

`criteria` (as typed) = {"subjects": ["email=ann@example.org"], "job_ids": [...], "trace_ids": [...],
"payload_hashes": [...], "tenant": "", "date_from": "2026-01-01" | None, "date_to": ... | None}.
`hashed` is the same with every identifier as a keyed hash (HMAC under the subject-key secret):
the subject keys as they are stored in records, the other identifiers hashed the same way under
their own names. Only `hashed` goes into the approval, the audit chain, tombstones and the
certificate; `criteria` is emptied of identifiers when the request ends.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta, timezone

from apps.compliance import subject_keys
from apps.compliance.subject_key_rules import rules
from apps.places.subject import Subject

IDENTIFIERS = ("job_ids", "trace_ids", "payload_hashes")
_PAYLOAD_HASH = re.compile(r"^[0-9a-f]{32}$")
MAX_IDENTIFIERS = 10_000


class CriteriaError(ValueError):
    """The criteria cannot name records; the message says what to change, `field` which criterion
    (None: the criteria as a whole), so a form shows it next to the field."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


def _day(value, what: str) -> str | None:
    if value in (None, ""):
        return None
    if isinstance(value, date):
        return value.isoformat()
    try:
        return date.fromisoformat(str(value).strip()).isoformat()
    except ValueError:
        raise CriteriaError(f"{what}: expected a date as YYYY-MM-DD (got {value!r})", f"date_{what}") from None


def _listed(values) -> list[str]:
    if isinstance(values, str):
        values = re.split(r"[\s,]+", values)
    return sorted({str(v).strip() for v in values or [] if str(v).strip()})


def cleaned(*, subjects=(), job_ids=(), trace_ids=(), payload_hashes=(), tenant="", date_from=None,
            date_to=None) -> dict:
    """The criteria as stored, or CriteriaError naming the first problem."""
    configured = rules()
    subject_list = _listed(subjects) if not isinstance(subjects, str) else _listed(subjects.splitlines())
    for pair in subject_list:
        try:
            subject_keys.parse_pair(pair, configured)
        except subject_keys.SubjectKeyError as exc:
            raise CriteriaError(str(exc), "subjects") from None
    criteria = {"subjects": subject_list, "job_ids": _listed(job_ids), "trace_ids": _listed(trace_ids),
                "payload_hashes": [h.lower() for h in _listed(payload_hashes)], "tenant": (tenant or "").strip(),
                "date_from": _day(date_from, "from"), "date_to": _day(date_to, "to")}
    for value in criteria["payload_hashes"]:
        if not _PAYLOAD_HASH.match(value):
            raise CriteriaError(f"payload hash {value[:40]!r}: expected 32 hex digits (as in the payload_hash column)",
                                "payload_hashes")
    if not (criteria["subjects"] or any(criteria[k] for k in IDENTIFIERS)):
        raise CriteriaError("name whose records to erase: at least one subject KEY=VALUE, job id, trace id "
                            "or payload hash (a tenant or dates alone would erase everybody's)")
    if sum(len(criteria[k]) for k in ("subjects", *IDENTIFIERS)) > MAX_IDENTIFIERS:
        raise CriteriaError(f"at most {MAX_IDENTIFIERS} identifiers in one request; split it")
    if criteria["date_from"] and criteria["date_to"] and criteria["date_from"] > criteria["date_to"]:
        raise CriteriaError(f"the date range ends ({criteria['date_to']}) before it starts ({criteria['date_from']})",
                            "date_to")
    return criteria


def identifier_hash(kind: str, value: str) -> str:
    """A job id, trace id or payload hash as its keyed hash (as tombstones and certificates hold it)."""
    return subject_keys.key_hash(kind, value)


def hashed(criteria: dict) -> dict:
    configured = rules()
    return {"subject_keys": sorted({subject_keys.parse_pair(p, configured) for p in criteria.get("subjects", [])}),
            **{kind: sorted({identifier_hash(kind, v) for v in criteria.get(kind, [])}) for kind in IDENTIFIERS},
            "tenant": criteria.get("tenant", ""), "date_from": criteria.get("date_from"),
            "date_to": criteria.get("date_to")}


def scrubbed(criteria: dict) -> dict:
    """What stays of the typed criteria once the request ends: counts and restrictions, no identifier."""
    return {"subjects": len(criteria.get("subjects", [])), **{k: len(criteria.get(k, [])) for k in IDENTIFIERS},
            "tenant": criteria.get("tenant", ""), "date_from": criteria.get("date_from"),
            "date_to": criteria.get("date_to"), "scrubbed": True}


def _start(day: str | None) -> datetime | None:
    return datetime.combine(date.fromisoformat(day), time(), tzinfo=timezone.utc) if day else None


def subject_of(criteria: dict, hashed_criteria: dict) -> Subject:
    """The records the (unscrubbed) criteria name, as every place matches them."""
    if criteria.get("scrubbed"):
        raise CriteriaError("this request has ended: only hashes of its identifiers are left")
    end = _start(criteria.get("date_to"))
    return Subject(key_hashes=tuple(hashed_criteria["subject_keys"]), job_ids=tuple(criteria["job_ids"]),
                   trace_ids=tuple(criteria["trace_ids"]), payload_hashes=tuple(criteria["payload_hashes"]),
                   tenant=criteria.get("tenant") or None, start=_start(criteria.get("date_from")),
                   end=end + timedelta(days=1) if end else None)


def label(criteria: dict) -> str:
    """For people: what the request names (raw values while it is open, counts after)."""
    if criteria.get("scrubbed"):
        parts = [f"{criteria[k]} {k.replace('_', ' ')}" for k in ("subjects", *IDENTIFIERS) if criteria.get(k)]
    else:
        parts = [", ".join(criteria["subjects"])] if criteria.get("subjects") else []
        parts += [f"{k.replace('_', ' ')}: {', '.join(criteria[k][:5])}{' ...' if len(criteria[k]) > 5 else ''}"
                  for k in IDENTIFIERS if criteria.get(k)]
    if criteria.get("tenant"):
        parts.append(f"tenant {criteria['tenant']}")
    if criteria.get("date_from") or criteria.get("date_to"):
        parts.append(f"enqueued {criteria.get('date_from') or '...'} to {criteria.get('date_to') or '...'}")
    return "; ".join(parts)
