"""Where a subject's records are: resolved to stream ids per tier, counted in every place of the registry.

Runs on the warehouse worker. The subject index narrows the days to look at when the request
names people only by subject keys; job ids, trace ids and payload hashes are looked for in
every day (their records may predate the index).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date

from apps.compliance.selectors import active_holds
from apps.lake import maintenance
from apps.places import copies, dead_letters, stream, subject_index
from apps.places.subject import Subject
from apps.rehydration import tables
from apps.retention.purge import held_counts
from apps.warehouse import client as ch
from apps.warehouse.physical import rows_matching

COUNT_KEYS = ("stream", "dead_letters", "warm", "cold", "rehydrated", "copies", "subject_index")


def narrowed(subject: Subject) -> Subject:
    """The subject limited to the days the index knows for it, when only subject keys name it."""
    if not subject.key_hashes or subject.job_ids or subject.trace_ids or subject.payload_hashes:
        return subject
    from apps.compliance import subject_index as index

    days = index.days_of(list(subject.key_hashes))
    return replace(subject, days=tuple(days) or (date(1970, 1, 1),))


@dataclass
class Located:
    """A tier's matching rows, by stream id and day."""

    stream_ids: list[str] = field(default_factory=list)
    days: list[str] = field(default_factory=list)

    @classmethod
    def of(cls, rows) -> Located:
        return cls([sid for sid, _ in rows], sorted({day for _, day in rows}))

    def as_dict(self) -> dict:
        return {"stream_ids": self.stream_ids, "days": self.days}


def locate_warm(subject: Subject, table: str = "jobs_archive") -> Located:
    where, params = subject.sql("e_")
    return Located.of(rows_matching(table, where, params))


def locate_cold(subject: Subject) -> Located:
    where, params = subject.sql("e_")
    rows = ch.query(f"SELECT stream_id, toString(toDate(enqueue_time)) FROM {{db}}.jobs_cold WHERE {where}",
                    tag="erasure", parameters=params).result_rows
    return Located.of(rows)


def resolved(subject: Subject, located: Located) -> Subject:
    """The subject as exactly these records (stream ids within their days): what removals name."""
    return subject.resolved(located.stream_ids, [date.fromisoformat(d) for d in located.days])


def cold_files(subject: Subject, located: Located) -> list[str]:
    """The data files (current snapshot) that may hold the located cold records: the ones a delete
    reads, pruned by day and by their stream-id bounds."""
    if not located.stream_ids:
        return []
    return maintenance.data_files(resolved(subject, located).iceberg())


def survey(subject: Subject, holds=None) -> dict:
    """The preview an approver sees: counts per place, files and partitions to rewrite, the holds."""
    holds = active_holds() if holds is None else holds
    kept = narrowed(subject).keeping(holds)
    warm = locate_warm(kept)
    cold = locate_cold(kept)
    files = cold_files(kept, cold)
    in_stream = stream.preview([kept])
    letters = dead_letters.preview([kept])
    per_table = {t: len(locate_warm(kept, t).stream_ids) for t in tables.existing()}
    stored = copies.preview([kept])
    index = subject_index.preview([kept])
    held = held_counts([kept], holds) if holds else []
    return {
        "counts": {"stream": len(in_stream.ids), "dead_letters": len(letters.row_ids) + len(letters.entry_ids),
                   "warm": len(warm.stream_ids), "cold": len(cold.stream_ids),
                   "rehydrated": sum(per_table.values()), "copies": stored.records, "subject_index": index.rows},
        "stream_pending": in_stream.pending,
        "held": held,
        "partitions": {"warm": warm.days, "cold": cold.days},
        "files": {"to_rewrite": len(files), "in_table": maintenance.table_size()["files"]},
        "rehydrated_tables": sorted(t for t, n in per_table.items() if n),
        "copies": len(stored.copy_ids),
    }



