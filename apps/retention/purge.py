"""Purge: remove records enqueued before a moment (optionally of some queues and outcomes) from every
place they live (apps.places: the stream, the warm and cold tiers, dead letters, rehydrated copies).

The preview and the purge share one selection and one counting function per place; the purge
acts on the selection the preview counted and reports those numbers, so a dry run says exactly
what a real run then does. A purge is final: stream entries go too, pending or not (their
records are marked purged first, so no export brings them back), and the cold tier's old files
go at the next cleanup (snapshot expiry and orphan removal, part of every retention run).

Legal holds win: the active holds are read when the preview is made, the selection keeps what
they match in every place, and the preview says which hold keeps how many records.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from apps.places import cold
from apps.places.registry import PLACES
from apps.places.selection import Selection, held_sql, sql
from apps.warehouse import client as ch

__all__ = ["PurgePreview", "Selection", "apply_purge", "preview_purge"]


def _iso(value) -> str | None:
    return value.isoformat() if value else None


@dataclass
class PurgePreview:
    selections: list[Selection]
    records: int = 0  # distinct records in jobs_all, the number a user sees go
    oldest: str | None = None
    newest: str | None = None
    queues: list[str] = field(default_factory=list)
    held: list[dict] = field(default_factory=list)  # per hold that keeps some: hold, label, records
    found: dict = field(default_factory=dict, repr=False)  # place name -> what it found

    @property
    def emptied_days(self) -> set[str]:
        """Days with no cold record left after the purge (nothing to compact there)."""
        found = self.found.get(cold.NAME)
        return found.emptied_days if found else set()

    def as_dict(self) -> dict:
        return {"selections": [s.label() for s in self.selections], "criteria": [s.as_dict() for s in self.selections],
                "records": self.records, "oldest": self.oldest, "newest": self.newest, "queues": self.queues,
                "held": self.held, **{name: found.summary() for name, found in self.found.items()}}


def preview_purge(selections: list[Selection], holds=None) -> PurgePreview:
    """Count what the selections remove, everywhere, keeping what the legal holds match (`holds`:
    the active ones, read now when not given)."""
    if holds is None:
        from apps.compliance.selectors import active_holds

        holds = active_holds()
    selections = [s.keeping(holds) for s in selections]
    preview = PurgePreview(selections=selections)
    if not selections:
        return preview
    preview.held = held_counts(selections, holds)
    where, params = sql(selections)
    count, oldest, newest, queues = ch.query(
        f"SELECT count(), min(enqueue_time), max(enqueue_time), arraySort(groupUniqArray(toString(queue))) "
        f"FROM {{db}}.jobs_all WHERE {where}", tag="purge", parameters=params).result_rows[0]
    preview.records = int(count)
    if count:
        preview.oldest, preview.newest = _iso(oldest), _iso(newest)
    preview.queues = list(queues)
    preview.found = {place.NAME: place.preview(selections) for place in PLACES}
    return preview


def held_counts(selections: list[Selection], holds) -> list[dict]:
    """How many records of the selection each hold keeps (a record two holds match counts for both)."""
    if not holds:
        return []
    where, params = sql([s.keeping(()) for s in selections])
    counts = []
    for j, held in enumerate(holds):
        clause, more = held_sql([held], prefix=f"c{j}_")
        counts.append(f"countIf({clause})")
        params.update(more)
    row = ch.query(f"SELECT {', '.join(counts)} FROM {{db}}.jobs_all WHERE {where}", tag="purge",
                   parameters=params).result_rows[0]
    return [{**held.brief(), "records": int(n)} for held, n in zip(holds, row) if n]


def apply_purge(preview: PurgePreview) -> dict:
    """Remove exactly what the preview selected, from every place, in the registry's order.
    Idempotent: a rerun after a crash finishes it."""
    if not preview.selections:
        return {"records": 0}
    result: dict = {"records": preview.records}
    for place in PLACES:
        result[place.NAME] = place.remove(preview.found[place.NAME])
    return result
