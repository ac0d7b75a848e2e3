"""Purge: remove records older than a point in time (optionally of some queues and outcomes) from every tier.

The preview and the purge share one selection and one counting function; the purge acts on the
selection the preview counted and reports those numbers, so a dry run says exactly what a real
run then does. Warm rows go by a lightweight DELETE, cold rows by an Iceberg copy-on-write delete (followed
by snapshot expiry and orphan removal, so the bytes are really gone), Redis entries by XDEL
(only acknowledged ones; entries a consumer still needs stay and are reported).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from pyiceberg.expressions import And, BooleanExpression, EqualTo, Or

from apps.lake import maintenance
from apps.retention.redis_trim import safe_bound, scan_groups
from apps.retention.tiering import warm_bytes_per_row
from apps.stream import client as streams
from apps.stream.client import stream_id_key
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


def _sql(selections: list[Selection]) -> tuple[str, dict]:
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


def _iceberg(selections: list[Selection]) -> BooleanExpression:
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


def _iso(value) -> str | None:
    return value.isoformat() if value else None


@dataclass
class PurgePreview:
    selections: list[Selection]
    records: int = 0  # distinct records in jobs_all, the number a user sees go
    oldest: str | None = None
    newest: str | None = None
    queues: list[str] = field(default_factory=list)
    warm: dict = field(default_factory=dict)
    cold: dict = field(default_factory=dict)
    redis: dict = field(default_factory=dict)
    redis_ids: list[str] = field(default_factory=list, repr=False)
    emptied_days: set[str] = field(default_factory=set, repr=False)  # days with no cold record left after

    def as_dict(self) -> dict:
        return {"selections": [s.label() for s in self.selections], "records": self.records,
                "oldest": self.oldest, "newest": self.newest, "queues": self.queues,
                "warm": self.warm, "cold": self.cold, "redis": self.redis}


def _warm_preview(where: str, params: dict) -> dict:
    rows = ch.query(
        f"SELECT toString(toDate(enqueue_time)) AS day, count() FROM {{db}}.jobs_archive WHERE {where} GROUP BY day",
        tag="purge", parameters=params).result_rows
    per_day = {d: int(n) for d, n in rows}
    bytes_per_row = warm_bytes_per_row()
    return {
        "records": sum(per_day.values()),
        "partitions": len(per_day),
        "bytes_estimate": int(sum(n * bytes_per_row.get(d, 0.0) for d, n in per_day.items())),
    }


def _cold_preview(where: str, params: dict, selections: list[Selection]) -> tuple[dict, set[str]]:
    rows = ch.query(f"SELECT toString(toDate(enqueue_time)) AS day, count(), countIf({where}) "
                    f"FROM {{db}}.jobs_cold GROUP BY day", tag="purge", parameters=params).result_rows
    records = sum(int(matching) for _, _, matching in rows)
    emptied = {day for day, total, matching in rows if matching and matching == total}
    files = maintenance.files_matching(_iceberg(selections)) if selections else maintenance.FileStats(0, 0, 0)
    return {"records": records, "files_rewritten": files.files, "bytes_in_those_files": files.bytes}, emptied


def _redis_matches(selections: list[Selection]) -> tuple[list[str], int]:
    """Stream entries the selections cover: (ids safe to delete, ids kept because a consumer needs them)."""
    r = streams.connection()
    stream = streams.StreamConfig.from_settings().stream
    if not selections or not r.exists(stream):
        return [], 0
    bound = safe_bound(r, stream)
    latest = max(int(s.before.timestamp() * 1000) for s in selections)
    deletable, kept = [], 0
    for entry_id, queue, outcome in scan_groups(r, stream, "-", str(latest)):
        ms = stream_id_key(entry_id)[0]
        # The entry id's time is when the job finished, never before it was enqueued: a safe proxy.
        if any(ms < s.before.timestamp() * 1000 and s.queue in (None, queue) and s.outcome in (None, outcome)
               for s in selections):
            if bound and stream_id_key(entry_id) < stream_id_key(bound):
                deletable.append(entry_id)
            else:
                kept += 1
    return deletable, kept


def preview_purge(selections: list[Selection]) -> PurgePreview:
    preview = PurgePreview(selections=selections)
    if not selections:
        return preview
    where, params = _sql(selections)
    count, oldest, newest, queues = ch.query(
        f"SELECT count(), min(enqueue_time), max(enqueue_time), arraySort(groupUniqArray(toString(queue))) "
        f"FROM {{db}}.jobs_all WHERE {where}", tag="purge", parameters=params).result_rows[0]
    preview.records = int(count)
    if count:
        preview.oldest, preview.newest = _iso(oldest), _iso(newest)
    preview.queues = list(queues)
    preview.warm = _warm_preview(where, params)
    preview.cold, preview.emptied_days = _cold_preview(where, params, selections)
    preview.redis_ids, kept = _redis_matches(selections)
    preview.redis = {"entries": len(preview.redis_ids), "kept_unacknowledged": kept}
    return preview


def apply_purge(preview: PurgePreview) -> dict:
    """Remove exactly what the preview selected, from every tier. Idempotent: a rerun after a crash finishes it."""
    if not preview.selections:
        return {"records": 0}
    where, params = _sql(preview.selections)
    if preview.warm.get("records"):
        ch.command(f"DELETE FROM {{db}}.jobs_archive WHERE {where}", tag="purge", parameters=params)
    if preview.cold.get("records"):
        maintenance.delete_where(_iceberg(preview.selections))
    deleted = streams.delete_entries(streams.connection(), streams.StreamConfig.from_settings().stream,
                                     preview.redis_ids)
    return {"records": preview.records, "warm_records": preview.warm.get("records", 0),
            "cold_records": preview.cold.get("records", 0), "redis_entries": deleted}
