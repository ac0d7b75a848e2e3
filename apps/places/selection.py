"""Which records a removal covers: enqueued before a moment, of a queue and an outcome when given.

One selection, three spellings: SQL for ClickHouse tables, an Iceberg expression for the cold
table, and a test on a raw stream entry (its own enqueue time, not the entry id's time).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from pyiceberg.expressions import And, BooleanExpression, EqualTo, Or

from apps.lake import maintenance
from apps.records.contract import ContractError, parse_time
from apps.warehouse import client as ch


@dataclass(frozen=True)
class Selection:
    """Records enqueued before `before`, of `queue` and `outcome` when given (None = any)."""

    before: datetime
    queue: str | None = None
    outcome: str | None = None
    reason: str = ""

    def label(self) -> str:
        parts = [f"before {self.before.isoformat()}", f"queue={self.queue}" if self.queue else "",
                 f"outcome={self.outcome}" if self.outcome else ""]
        return " ".join(p for p in parts if p)

    def as_dict(self) -> dict:
        return {"before": self.before.isoformat(), "queue": self.queue, "outcome": self.outcome,
                "reason": self.reason}

    @classmethod
    def from_dict(cls, data: dict) -> Selection:
        return cls(datetime.fromisoformat(data["before"]), data.get("queue"), data.get("outcome"),
                   data.get("reason", ""))

    def covers(self, enqueue_us: int, queue: str, outcome: str) -> bool:
        return (enqueue_us < self.before.timestamp() * 1_000_000 and self.queue in (None, queue)
                and self.outcome in (None, outcome))


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
        clauses.append("(" + " AND ".join(parts) + ")")
    return " OR ".join(clauses) or "0", params


def iceberg(selections: list[Selection]) -> BooleanExpression:
    expressions = []
    for sel in selections:
        expr = maintenance.before_filter(sel.before)
        if sel.queue is not None:
            expr = And(expr, EqualTo("queue", sel.queue))
        if sel.outcome is not None:
            expr = And(expr, EqualTo("outcome", sel.outcome))
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
    try:
        enqueue_us = parse_time(fields.get("enqueue_time", ""), "enqueue_time")
    except ContractError:
        enqueue_us = fallback_ms * 1000
    queue, outcome = fields.get("queue", ""), fields.get("outcome", "")
    return any(s.covers(enqueue_us, queue, outcome) for s in selections)
