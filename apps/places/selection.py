"""Which records a removal covers: enqueued before a moment, of a queue and an outcome when given,
except the records a legal hold keeps (`Held`).

One selection, three spellings: SQL for ClickHouse tables, an Iceberg expression for the cold
table, and a test on a raw stream entry (its own enqueue time, not the entry id's time).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from datetime import datetime
from functools import cached_property

from pyiceberg.expressions import AlwaysFalse, And, BooleanExpression, EqualTo, GreaterThanOrEqual, In, LessThan, Not, Or

from apps.exports.pipeline.policy import payload_digest
from apps.lake import maintenance
from apps.records.contract import ContractError, parse_time
from apps.records.schema import TIME_PARTITION_COLUMN
from apps.warehouse import client as ch


@dataclass(frozen=True)
class Held:
    """The records a legal hold keeps: every criterion given must match (None or empty = any).
    `start` and `end` bound the enqueue time, `end` exclusive."""

    hold_id: int
    label: str
    queue: str | None = None
    tenant: str | None = None
    job_ids: tuple[str, ...] = ()
    start: datetime | None = None
    end: datetime | None = None
    key_hashes: tuple[str, ...] = ()  # subject keys (keyed hashes): records of these people
    # The cold records a subject-key hold keeps, found in ClickHouse (an Iceberg expression
    # cannot look inside the subject_keys list): set by `resolved` before `iceberg` is asked.
    stream_ids: tuple[str, ...] | None = None

    def resolved(self, stream_ids) -> Held:
        return replace(self, stream_ids=tuple(sorted(stream_ids)))

    def sql(self, prefix: str) -> tuple[str, dict]:
        parts, params = [], {}
        if self.key_hashes:
            parts.append(f"hasAny(subject_keys, {{{prefix}k:Array(String)}})")
            params[f"{prefix}k"] = list(self.key_hashes)
        if self.queue is not None:
            parts.append(f"queue = {{{prefix}q:String}}")
            params[f"{prefix}q"] = self.queue
        if self.tenant is not None:
            parts.append(f"tenant_id = {{{prefix}t:String}}")
            params[f"{prefix}t"] = self.tenant
        if self.job_ids:
            parts.append(f"job_id IN {{{prefix}j:Array(String)}}")
            params[f"{prefix}j"] = list(self.job_ids)
        if self.start is not None:
            parts.append(f"enqueue_time >= {{{prefix}s:DateTime64(6, 'UTC')}}")
            params[f"{prefix}s"] = ch.utc_naive(self.start)
        if self.end is not None:
            parts.append(f"enqueue_time < {{{prefix}e:DateTime64(6, 'UTC')}}")
            params[f"{prefix}e"] = ch.utc_naive(self.end)
        return "(" + " AND ".join(parts or ["1"]) + ")", params

    def iceberg(self) -> BooleanExpression:
        parts: list[BooleanExpression] = []
        if self.key_hashes:
            if self.stream_ids is None:
                raise ValueError(f"hold {self.hold_id} keeps records by subject key: resolve its cold records first")
            parts.append(In("stream_id", set(self.stream_ids)) if self.stream_ids else AlwaysFalse())
        if self.queue is not None:
            parts.append(EqualTo("queue", self.queue))
        if self.tenant is not None:
            parts.append(EqualTo("tenant_id", self.tenant))
        if self.job_ids:
            parts.append(In("job_id", set(self.job_ids)))
        if self.start is not None:
            parts.append(GreaterThanOrEqual(TIME_PARTITION_COLUMN, maintenance.micros(self.start)))
        if self.end is not None:
            parts.append(LessThan(TIME_PARTITION_COLUMN, maintenance.micros(self.end)))
        result = parts[0]
        for part in parts[1:]:
            result = And(result, part)
        return result

    def covers(self, entry: Entry) -> bool:
        enqueue_us, fields = entry.enqueue_us, entry.fields
        return ((not self.key_hashes or not entry.key_hashes.isdisjoint(self.key_hashes))
                and (self.queue is None or fields.get("queue", "") == self.queue)
                and (self.tenant is None or fields.get("tenant_id", "") == self.tenant)
                and (not self.job_ids or fields.get("job_id", "") in self.job_ids)
                and (self.start is None or enqueue_us >= maintenance.micros(self.start))
                and (self.end is None or enqueue_us < maintenance.micros(self.end)))

    def brief(self) -> dict:
        return {"hold": self.hold_id, "label": self.label}

    def as_dict(self) -> dict:
        return {"hold": self.hold_id, "label": self.label, "queue": self.queue, "tenant": self.tenant,
                "job_ids": list(self.job_ids), "key_hashes": list(self.key_hashes), "start": self.start.isoformat() if self.start else None,
                "end": self.end.isoformat() if self.end else None}

    @classmethod
    def from_dict(cls, data: dict) -> Held:
        return cls(data["hold"], data["label"], data.get("queue"), data.get("tenant"), tuple(data.get("job_ids", ())),
                   datetime.fromisoformat(data["start"]) if data.get("start") else None,
                   datetime.fromisoformat(data["end"]) if data.get("end") else None,
                   tuple(data.get("key_hashes", ())))


@dataclass(frozen=True)
class Selection:
    """Records enqueued before `before`, of `queue` and `outcome` when given (None = any), except
    those a hold in `keep` keeps."""

    before: datetime
    queue: str | None = None
    outcome: str | None = None
    reason: str = ""
    keep: tuple[Held, ...] = ()

    def keeping(self, holds) -> Selection:
        return replace(self, keep=tuple(holds))

    def label(self) -> str:
        parts = [f"before {self.before.isoformat()}", f"queue={self.queue}" if self.queue else "",
                 f"outcome={self.outcome}" if self.outcome else ""]
        return " ".join(p for p in parts if p)

    def as_dict(self) -> dict:
        return {"before": self.before.isoformat(), "queue": self.queue, "outcome": self.outcome,
                "reason": self.reason, "keep": [held.as_dict() for held in self.keep]}

    @classmethod
    def from_dict(cls, data: dict) -> Selection:
        return cls(datetime.fromisoformat(data["before"]), data.get("queue"), data.get("outcome"),
                   data.get("reason", ""), tuple(Held.from_dict(h) for h in data.get("keep", ())))

    def sql(self, prefix: str) -> tuple[str, dict]:
        parts = [f"enqueue_time < {{{prefix}b:DateTime64(6, 'UTC')}}"]
        params: dict = {f"{prefix}b": ch.utc_naive(self.before)}
        if self.queue is not None:
            parts.append(f"queue = {{{prefix}q:String}}")
            params[f"{prefix}q"] = self.queue
        if self.outcome is not None:
            parts.append(f"outcome = {{{prefix}o:String}}")
            params[f"{prefix}o"] = self.outcome
        if self.keep:
            held, held_params = held_sql(self.keep, prefix=f"{prefix}k")
            parts.append(f"NOT {held}")
            params.update(held_params)
        return "(" + " AND ".join(parts) + ")", params

    def iceberg(self) -> BooleanExpression:
        expr = maintenance.before_filter(self.before)
        if self.queue is not None:
            expr = And(expr, EqualTo("queue", self.queue))
        if self.outcome is not None:
            expr = And(expr, EqualTo("outcome", self.outcome))
        for held in self.keep:
            expr = And(expr, Not(held.iceberg()))
        return expr

    def covers(self, entry: Entry) -> bool:
        fields = entry.fields
        return (entry.enqueue_us < self.before.timestamp() * 1_000_000 and self.queue in (None, fields.get("queue", ""))
                and self.outcome in (None, fields.get("outcome", ""))
                and not any(held.covers(entry) for held in self.keep))


def sql(selections) -> tuple[str, dict]:
    """A WHERE clause over the record's columns, with bound parameters: any of the selections
    (a `Selection`, or a `Subject` of an erasure or a subject access)."""
    clauses, params = [], {}
    for i, sel in enumerate(selections):
        clause, more = sel.sql(f"s{i}_")
        clauses.append(clause)
        params.update(more)
    return " OR ".join(clauses) or "0", params


def held_sql(holds, *, prefix: str = "h") -> tuple[str, dict]:
    """Records any of `holds` keeps, as SQL with bound parameters."""
    clauses, params = [], {}
    for j, held in enumerate(holds):
        clause, more = held.sql(f"{prefix}{j}_")
        clauses.append(clause)
        params.update(more)
    return "(" + (" OR ".join(clauses) or "0") + ")", params


def iceberg(selections) -> BooleanExpression:
    """The same selections as an Iceberg expression (for the cold table's deletes and scans)."""
    result = None
    for sel in selections:
        expr = sel.iceberg()
        result = expr if result is None else Or(result, expr)
    return result


def text_fields(raw: dict[bytes, bytes]) -> dict[str, str]:
    """A raw entry's fields as text, for matching (never written anywhere)."""
    return {k.decode(errors="replace"): v.decode(errors="replace") for k, v in raw.items()}


class Entry:
    """A raw entry (stream or dead letter) as matching sees it: its fields as text, its enqueue time
    (its own, else when it reached the stream, which is never before it was enqueued), and, when a
    criterion asks, the keyed hashes of the identifiers in its payload and tags (never kept)."""

    def __init__(self, fields: dict[str, str], fallback_ms: int) -> None:
        self.fields = fields
        self.enqueue_us = _enqueue_us(fields, fallback_ms)

    @cached_property
    def key_hashes(self) -> frozenset[str]:
        from apps.compliance.subject_key_rules import cached_rules
        from apps.compliance.subject_keys import extract

        try:
            tags = json.loads(self.fields.get("tags") or "{}")
        except ValueError:
            tags = {}
        return frozenset(extract(cached_rules(), payload=self.fields.get("payload"), tags=tags))

    @cached_property
    def payload_hash(self) -> str:
        payload = self.fields.get("payload")
        return payload_digest(payload.encode()).hex() if payload else ""


def entry_covered(selections, fields: dict, fallback_ms: int) -> bool:
    """Does a raw entry (stream or dead letter, field names to text) fall in a selection?"""
    entry = Entry(fields, fallback_ms)
    return any(s.covers(entry) for s in selections)


def entry_held(holds, fields: dict, fallback_ms: int) -> list[Held]:
    """The holds that keep a raw entry (field names to text), dated as `entry_covered` dates it."""
    entry = Entry(fields, fallback_ms)
    return [held for held in holds if held.covers(entry)]


def _enqueue_us(fields: dict, fallback_ms: int) -> int:
    try:
        return parse_time(fields.get("enqueue_time", ""), "enqueue_time")
    except ContractError:
        return fallback_ms * 1000
