"""Keeps the Redis stream slim: exported entries leave after their policy's Redis retention, never earlier.

Never below the oldest entry any consumer group still needs: the trim bound is the smallest of
each group's oldest pending id and the id after its last delivered one, so unacknowledged and undelivered
entries always stay. The stream is trimmed by id (XTRIM MINID) to the longest retention of any
policy; queues and outcomes with a shorter retention have their older entries removed one by
one (XDEL) between that point and their own horizon.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

import redis

from apps.exports.models import BatchState, ExportBatch
from apps.places.selection import entry_held, text_fields
from apps.retention.resolution import PolicyBook
from apps.stream import client as streams
from apps.stream.client import stream_id_key



@dataclass
class TrimPlan:
    stream: str
    length: int
    safe_bound: str | None  # entries at or above this id are still needed by some group
    minid: str | None  # XTRIM MINID target (entries below it go)
    trim_entries: int = 0
    delete_ids: list[str] = field(default_factory=list)
    oldest_kept: str | None = None
    held_entries: int = 0  # old enough to go, kept by a legal hold
    held: dict[str, int] = field(default_factory=dict)  # hold label -> entries it keeps

    def summary(self) -> dict:
        return {"stream_length": self.length, "safe_bound": self.safe_bound, "trim_below": self.minid,
                "trimmed_entries": self.trim_entries, "deleted_entries": len(self.delete_ids),
                "held_entries": self.held_entries,
                "held": [{"hold": label, "entries": n} for label, n in self.held.items()]}


def safe_bound(r: redis.Redis, stream: str) -> str | None:
    """Entries below this id are acknowledged by every consumer group; at and above it some group still
    needs them (pending, or not yet delivered). None: no group has read the stream, keep everything."""
    bounds = []
    for group in r.xinfo_groups(stream):
        name = group["name"]
        last = group["last-delivered-id"]
        bounds.append(_next_id(last.decode() if isinstance(last, bytes) else last))
        if group["pending"]:
            low = r.xpending(stream, name)["min"]
            bounds.append(low.decode() if isinstance(low, bytes) else low)
    if not bounds:
        return None  # nobody has read the stream yet: nothing is exported, nothing may go
    return min(bounds, key=stream_id_key)


def _exported_before(stream: str, moment: datetime) -> str | None:
    """Highest entry id of the batches acknowledged at or before `moment`."""
    ids = ExportBatch.objects.filter(stream=stream, state=BatchState.ACKNOWLEDGED,
                                     acknowledged_at__lte=moment).values_list("last_id", flat=True)
    return max(ids, key=stream_id_key, default=None)


def plan_trim(book: PolicyBook, as_of: datetime, stream: str | None = None, keep=()) -> TrimPlan:
    """What trimming removes; entries a legal hold in `keep` matches stay, whatever their age."""
    r = streams.connection()
    stream = stream or streams.StreamConfig.from_settings().stream
    if not r.exists(stream):
        return TrimPlan(stream=stream, length=0, safe_bound=None, minid=None)
    bound = safe_bound(r, stream)
    plan = TrimPlan(stream=stream, length=r.xlen(stream), safe_bound=bound, minid=None)
    if bound is None:
        return plan
    horizons: dict[int, str | None] = {}

    def horizon(hours: int) -> str | None:
        if hours not in horizons:
            horizons[hours] = _exported_before(stream, as_of - timedelta(hours=hours))
        return horizons[hours]

    def held(entry_id: str, fields: dict) -> bool:
        holding = entry_held(keep, fields, stream_id_key(entry_id)[0]) if keep else []
        for hold in holding:
            plan.held[hold.label] = plan.held.get(hold.label, 0) + 1
        return bool(holding)

    # XTRIM MINID drops ids below it: the first id above the horizon, but never above the bound,
    # and never above a held entry (the entries between that one and the horizon go one by one).
    longest = horizon(max(book.redis_hours_values()))
    decided = "-"  # entries below this id are planned for
    if longest is not None:
        plan.minid = decided = min(_next_id(longest), bound, key=stream_id_key)
        below, first_held = [], None
        if not keep:  # nothing to look at but the count (the list could be long)
            plan.trim_entries = sum(1 for _ in streams.scan_range(r, stream, "-", f"({plan.minid}"))
        for entry_id, fields in scan_entries(r, stream, "-", f"({plan.minid}") if keep else ():
            if not held(entry_id, fields):
                below.append(entry_id)
                continue
            plan.held_entries += 1
            if first_held is None:
                first_held, plan.trim_entries, below = entry_id, len(below), []
        if first_held is None:
            plan.trim_entries = plan.trim_entries or len(below)
        else:
            plan.minid, plan.delete_ids = first_held, below
    # Shorter retentions: scan from the trim point up to the most distant short horizon.
    reach = max((h for h in map(horizon, book.redis_hours_values()) if h), key=stream_id_key, default=None)
    if reach is not None:
        for entry_id, fields in scan_entries(r, stream, decided, reach):
            own = horizon(book.for_pair(fields.get("queue", ""), fields.get("outcome", "")).redis_hours)
            if own is not None and stream_id_key(entry_id) <= stream_id_key(own) \
                    and stream_id_key(entry_id) < stream_id_key(bound) and not held(entry_id, fields):
                plan.delete_ids.append(entry_id)
    return plan


def _next_id(entry_id: str) -> str:
    ms, seq = stream_id_key(entry_id)
    return f"{ms}-{seq + 1}"


def scan_entries(r: redis.Redis, stream: str, start: str, end: str):
    """(entry id, fields as text) of every entry in the range: what policies and holds are matched on."""
    for entry_id, raw in streams.scan_range(r, stream, start, end):
        yield entry_id, text_fields(raw)


def apply_trim(plan: TrimPlan) -> dict:
    """Act on the plan; the bound is re-read first so a consumer that fell behind meanwhile is safe."""
    r = streams.connection()
    if plan.minid is None and not plan.delete_ids:
        return {"trimmed_entries": 0, "deleted_entries": 0}
    bound = safe_bound(r, plan.stream)
    trimmed = 0
    if plan.minid and bound:
        trimmed = r.xtrim(plan.stream, minid=min(plan.minid, bound, key=stream_id_key), approximate=False)
    ids = [i for i in plan.delete_ids if bound and stream_id_key(i) < stream_id_key(bound)]
    deleted = streams.delete_entries(r, plan.stream, ids)
    return {"trimmed_entries": trimmed, "deleted_entries": deleted}
