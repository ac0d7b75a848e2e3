"""Place: the subject index, ClickHouse `subject_index` (key hash -> days holding that subject's records).

It holds keyed hashes, no record; an erasure removes the erased keys' rows, a purge by age leaves
it (a day that no longer holds the records costs a lookup nothing)."""

from __future__ import annotations

from dataclasses import dataclass, field

NAME = "subject_index"


@dataclass
class Found:
    key_hashes: list[str] = field(default_factory=list)
    rows: int = 0

    def summary(self) -> dict:
        return {"rows": self.rows}


def preview(selections) -> Found:
    hashes = sorted({h for s in selections for h in getattr(s, "key_hashes", ())})
    if not hashes:
        return Found()
    from apps.compliance import subject_index

    return Found(hashes, subject_index.count(hashes))


def remove(found: Found) -> dict:
    if not found.key_hashes:
        return {"rows": 0}
    from apps.compliance import subject_index

    return {"rows": subject_index.remove(found.key_hashes)}
