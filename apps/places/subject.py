"""Which records an erasure or a subject access names: a person's records, found by identifiers.

Identifiers (any of them matches): subject keys (keyed hashes, the `subject_keys` column), job
ids, trace ids and payload hashes. Restrictions (all must hold): a tenant and an enqueue-time
range. Records a legal hold keeps (`keep`) are left out. `Subject` spells this like
`Selection` does (SQL, Iceberg, a raw entry), so every place of the registry can use either.

Once resolved (`resolved`), a subject's records are named by their stream ids only: the
removals' predicates (ClickHouse mutations keep theirs as text, in `system.mutations` and on
disk) then hold internal ids and never an identifier, and the cold delete, pruned to the days
that hold the records, touches only their files.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta, timezone

from pyiceberg.expressions import AlwaysFalse, And, BooleanExpression, GreaterThanOrEqual, In, LessThan, Or

from apps.lake import maintenance
from apps.places.selection import Entry, Held, held_sql
from apps.records.schema import TIME_PARTITION_COLUMN
from apps.warehouse import client as ch


@dataclass(frozen=True)
class Subject:
    key_hashes: tuple[str, ...] = ()
    job_ids: tuple[str, ...] = ()
    trace_ids: tuple[str, ...] = ()
    payload_hashes: tuple[str, ...] = ()
    tenant: str | None = None
    start: datetime | None = None  # enqueued at or after
    end: datetime | None = None  # enqueued before
    keep: tuple[Held, ...] = ()
    # Set once resolved: exactly these records (stream ids) on these days.
    stream_ids: tuple[str, ...] | None = None
    days: tuple[date, ...] = ()

    @property
    def identifies_someone(self) -> bool:
        return bool(self.key_hashes or self.job_ids or self.trace_ids or self.payload_hashes)

    def keeping(self, holds) -> Subject:
        return replace(self, keep=tuple(holds))

    def resolved(self, stream_ids, days) -> Subject:
        return replace(self, stream_ids=tuple(sorted(set(stream_ids))), days=tuple(sorted(set(days))))

    def label(self) -> str:
        counts = [(len(self.key_hashes), "subject key"), (len(self.job_ids), "job id"),
                  (len(self.trace_ids), "trace id"), (len(self.payload_hashes), "payload hash")]
        parts = [f"{n} {what}{'s' if n != 1 else ''}" for n, what in counts if n]
        if self.tenant:
            parts.append(f"tenant={self.tenant}")
        return ", ".join(parts) or "nobody"

    # --- SQL over the record's columns -----------------------------------------------------
    def identifiers_sql(self, prefix: str) -> tuple[str, dict]:
        """Any identifier matches (no restriction, no hold): what verification searches for."""
        parts, params = [], {}
        if self.key_hashes:
            parts.append(f"hasAny(subject_keys, {{{prefix}k:Array(String)}})")
            params[f"{prefix}k"] = list(self.key_hashes)
        for column, values, tag in (("job_id", self.job_ids, "j"), ("trace_id", self.trace_ids, "t"),
                                    ("payload_hash", self.payload_hashes, "p")):
            if values:
                parts.append(f"{column} IN {{{prefix}{tag}:Array(String)}}")
                params[f"{prefix}{tag}"] = list(values)
        return "(" + (" OR ".join(parts) or "0") + ")", params

    def sql(self, prefix: str) -> tuple[str, dict]:
        if self.stream_ids is not None:
            parts = [f"stream_id IN {{{prefix}ids:Array(String)}}"]
            params: dict = {f"{prefix}ids": list(self.stream_ids)}
            if self.days:
                parts.insert(0, f"toDate(enqueue_time) IN {{{prefix}days:Array(Date)}}")
                params[f"{prefix}days"] = list(self.days)
            return "(" + " AND ".join(parts) + ")", params
        clause, params = self.identifiers_sql(prefix)
        parts = [clause]
        if self.tenant:
            parts.append(f"tenant_id = {{{prefix}tenant:String}}")
            params[f"{prefix}tenant"] = self.tenant
        if self.start is not None:
            parts.append(f"enqueue_time >= {{{prefix}start:DateTime64(6, 'UTC')}}")
            params[f"{prefix}start"] = ch.utc_naive(self.start)
        if self.end is not None:
            parts.append(f"enqueue_time < {{{prefix}end:DateTime64(6, 'UTC')}}")
            params[f"{prefix}end"] = ch.utc_naive(self.end)
        if self.days:
            parts.append(f"toDate(enqueue_time) IN {{{prefix}days:Array(Date)}}")
            params[f"{prefix}days"] = list(self.days)
        if self.keep:
            held, more = held_sql(self.keep, prefix=f"{prefix}h")
            parts.append(f"NOT {held}")
            params.update(more)
        return "(" + " AND ".join(parts) + ")", params

    # --- Iceberg ----------------------------------------------------------------------------
    def iceberg(self) -> BooleanExpression:
        """Only once resolved: the records by stream id, within their days (so only their files)."""
        if self.stream_ids is None:
            raise ValueError("resolve the subject's records (stream ids) before asking the cold table")
        if not self.stream_ids:
            return AlwaysFalse()
        return And(days_expression(self.days), In("stream_id", set(self.stream_ids)))

    # --- a raw entry --------------------------------------------------------------------------
    def covers(self, entry: Entry) -> bool:
        fields = entry.fields
        if self.tenant and fields.get("tenant_id", "") != self.tenant:
            return False
        if self.start is not None and entry.enqueue_us < maintenance.micros(self.start):
            return False
        if self.end is not None and entry.enqueue_us >= maintenance.micros(self.end):
            return False
        identified = ((self.job_ids and fields.get("job_id", "") in self.job_ids)
                      or (self.trace_ids and fields.get("trace_id", "") in self.trace_ids)
                      or (self.payload_hashes and entry.payload_hash in self.payload_hashes)
                      or (self.key_hashes and not entry.key_hashes.isdisjoint(self.key_hashes)))
        return bool(identified) and not any(held.covers(entry) for held in self.keep)


def days_expression(days) -> BooleanExpression:
    """Enqueued on one of these days (UTC), as an Iceberg expression the partition spec can prune by.

    Consecutive days make one range: pyiceberg binds and projects every predicate again for each
    data file it plans, so 60 days as 60 ranges cost seconds where one range costs nothing."""
    ranges: list[list[date]] = []
    for day in sorted(set(days)):
        if ranges and day == ranges[-1][1] + timedelta(days=1):
            ranges[-1][1] = day
        else:
            ranges.append([day, day])
    result: BooleanExpression | None = None
    for first, last in ranges:
        start = datetime(first.year, first.month, first.day, tzinfo=timezone.utc)
        end = datetime(last.year, last.month, last.day, tzinfo=timezone.utc) + timedelta(days=1)
        expr = And(GreaterThanOrEqual(TIME_PARTITION_COLUMN, maintenance.micros(start)),
                   LessThan(TIME_PARTITION_COLUMN, maintenance.micros(end)))
        result = expr if result is None else Or(result, expr)
    return result if result is not None else AlwaysFalse()



