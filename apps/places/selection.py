"""Which records a removal covers: enqueued before a moment, of a queue and an outcome when given,
except the records a legal hold keeps (`Held`).

One selection, three spellings: SQL for ClickHouse tables, an Iceberg expression for the cold
table, and a test on a raw stream entry (its own enqueue time, not the entry id's time).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from pyiceberg.expressions import And, BooleanExpression, EqualTo, GreaterThanOrEqual, In, LessThan, Not, Or

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

    def sql(self, prefix: str) -> tuple[str, dict]:
        parts, params = [], {}
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

    def covers(self, enqueue_us: int, fields: dict) -> bool:
        return ((self.queue is None or fields.get("queue", "") == self.queue)
                and (self.tenant is None or fields.get("tenant_id", "") == self.tenant)
                and (not self.job_ids or fields.get("job_id", "") in self.job_ids)
                and (self.start is None or enqueue_us >= maintenance.micros(self.start))
                and (self.end is None or enqueue_us < maintenance.micros(self.end)))

    def brief(self) -> dict:
        return {"hold": self.hold_id, "label": self.label}

    def as_dict(self) -> dict:
        return {"hold": self.hold_id, "label": self.label, "queue": self.queue, "tenant": self.tenant,
                "job_ids": list(self.job_ids), "start": self.start.isoformat() if self.start else None,
                "end": self.end.isoformat() if self.end else None}

    @classmethod
    def from_dict(cls, data: dict) -> Held:
        return cls(data["hold"], data["label"], data.get("queue"), data.get("tenant"), tuple(data.get("job_ids", ())),
                   datetime.fromisoformat(data["start"]) if data.get("start") else None,
                   datetime.fromisoformat(data["end"]) if data.get("end") else None)


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

    def covers(self, enqueue_us: int, fields: dict) -> bool:
        return (enqueue_us < self.before.timestamp() * 1_000_000 and self.queue in (None, fields.get("queue", ""))
                and self.outcome in (None, fields.get("outcome", ""))
                and not any(held.covers(enqueue_us, fields) for held in self.keep))


def sql(selections: list[Selection]) -> tuple[str, dict]:
    """A WHERE clause over the record's columns, with bound parameters."""
    clauses, params = [], {}
    for i, sel in enumerate(selections):
        parts = [f"enqueue_time < {{b{i}:DateTime64(6, 'UTC')}}"]
        params[f"b{i}"] = ch.utc_naive(sel.before)
        if sel.queue is not None:
            parts.append(f"queue = {{q{i}:String}}")
            params[f"q{i}"] = sel.queue
        if sel.outcome is not None:
            parts.append(f"outcome = {{o{i}:String}}")
            params[f"o{i}"] = sel.outcome
        if sel.keep:
            held, held_params = held_sql(sel.keep, prefix=f"k{i}_")
            parts.append(f"NOT {held}")
            params.update(held_params)
        clauses.append("(" + " AND ".join(parts) + ")")
    return " OR ".join(clauses) or "0", params


def held_sql(holds, *, prefix: str = "h") -> tuple[str, dict]:
    """Records any of `holds` keeps, as SQL with bound parameters."""
    clauses, params = [], {}
    for j, held in enumerate(holds):
        clause, more = held.sql(f"{prefix}{j}_")
        clauses.append(clause)
        params.update(more)
    return "(" + (" OR ".join(clauses) or "0") + ")", params


def iceberg(selections: list[Selection]) -> BooleanExpression:
    expressions = []
    for sel in selections:
        expr = maintenance.before_filter(sel.before)
        if sel.queue is not None:
            expr = And(expr, EqualTo("queue", sel.queue))
        if sel.outcome is not None:
            expr = And(expr, EqualTo("outcome", sel.outcome))
        for held in sel.keep:
            expr = And(expr, Not(held.iceberg()))
        expressions.append(expr)
    result = expressions[0]
    for expr in expressions[1:]:
        result = Or(result, expr)
    return result


def text_fields(raw: dict[bytes, bytes]) -> dict[str, str]:
    """A raw entry's fields as text, for matching (never written anywhere)."""
    return {k.decode(errors="replace"): v.decode(errors="replace") for k, v in raw.items()}


def entry_covered(selections: list[Selection], fields: dict, fallback_ms: int) -> bool:
    """Does a raw entry (stream or dead letter, field names to text) fall in a selection?

    Its own enqueue time decides; an entry whose time cannot be read (a dead letter, say) is
    dated by when it reached the stream (`fallback_ms`), which is never before it was enqueued.
    """
    enqueue_us = _enqueue_us(fields, fallback_ms)
    return any(s.covers(enqueue_us, fields) for s in selections)


def entry_held(holds, fields: dict, fallback_ms: int) -> list[Held]:
    """The holds that keep a raw entry (field names to text), dated as `entry_covered` dates it."""
    enqueue_us = _enqueue_us(fields, fallback_ms)
    return [held for held in holds if held.covers(enqueue_us, fields)]


def _enqueue_us(fields: dict, fallback_ms: int) -> int:
    try:
        return parse_time(fields.get("enqueue_time", ""), "enqueue_time")
    except ContractError:
        return fallback_ms * 1000
