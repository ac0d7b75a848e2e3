"""Place: the cold tier, the Iceberg table (copy-on-write delete; the old files go at the retention
run's cleanup: snapshot expiry, then orphan removal)."""

from __future__ import annotations

from dataclasses import dataclass, field

from apps.lake import maintenance
from apps.places.selection import Selection, iceberg, sql
from apps.warehouse import client as ch
from apps.warehouse import held

NAME = "cold"


@dataclass
class Found:
    selections: list[Selection]
    records: int = 0
    files: int = 0
    bytes: int = 0
    emptied_days: set[str] = field(default_factory=set)  # days with no cold record left after
    days: set[str] = field(default_factory=set)  # days with a record to remove

    def summary(self) -> dict:
        return {"records": self.records, "files_rewritten": self.files, "bytes_in_those_files": self.bytes}


def resolve_holds(selection):
    """The selection with its subject-key holds resolved to the cold records they keep (by stream id):
    an Iceberg expression cannot look inside the subject_keys list."""
    keep = []
    for hold in selection.keep:
        if hold.key_hashes and hold.stream_ids is None:
            clause, params = hold.sql("r_")
            rows = ch.query(f"SELECT stream_id FROM {{db}}.jobs_cold WHERE {clause}", tag="purge",
                            parameters=params).result_rows
            hold = hold.resolved(sid for (sid,) in rows)
        keep.append(hold)
    return selection.keeping(keep)


def preview(selections: list[Selection]) -> Found:
    selections = [resolve_holds(s) for s in selections]
    found = Found(selections)
    if not selections:
        return found
    where, params = sql(selections)
    rows = ch.query(f"SELECT toString(toDate(enqueue_time)) AS day, count(), countIf({where}) "
                    f"FROM {{db}}.jobs_cold GROUP BY day", tag="purge", parameters=params).result_rows
    found.records = sum(int(matching) for _, _, matching in rows)
    found.emptied_days = {day for day, total, matching in rows if matching and matching == total}
    found.days = {day for day, _, matching in rows if matching}
    files = maintenance.files_matching(iceberg(selections))
    found.files, found.bytes = files.files, files.bytes
    return found


def remove(found: Found) -> dict:
    if not found.records:
        return {"records": 0}
    with held.changing(found.days):
        maintenance.delete_where(iceberg(found.selections))
    return {"records": found.records}
