"""Place: dead letters, in the `<stream>:dead` stream and as `DeadLetter` rows; both hold the raw entry.

They are matched like stream entries, by their own fields (a dead letter without a readable
enqueue time is dated by when it reached the stream), and have a retention of their own
(`ARCHIVE_DEAD_LETTER_DAYS`), applied by the retention run.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from apps.exports.models import DeadLetter
from apps.places.selection import Held, Selection, entry_covered, entry_held, text_fields
from apps.stream import client as streams
from apps.stream.client import stream_id_key

NAME = "dead_letters"


@dataclass
class Found:
    stream: str
    row_ids: list[int] = field(default_factory=list)
    entry_ids: list[str] = field(default_factory=list)  # in the dead-letter stream
    held: int = 0  # past their retention, but kept by a legal hold (rows and entries)

    def summary(self) -> dict:
        return {"rows": len(self.row_ids), "stream_entries": len(self.entry_ids), "held": self.held}


def preview(selections: list[Selection]) -> Found:
    cfg = streams.StreamConfig.from_settings()
    found = Found(stream=cfg.dead_stream)
    if not selections:
        return found
    for row_id, entry_id, fields in DeadLetter.objects.filter(stream=cfg.stream).values_list(
            "id", "entry_id", "fields").iterator(chunk_size=2000):
        if entry_covered(selections, fields, stream_id_key(entry_id)[0]):
            found.row_ids.append(row_id)
    r = streams.connection()
    for entry_id, raw in streams.scan_range(r, cfg.dead_stream, "-", "+"):
        fields = text_fields(raw)
        original = fields.get("original_id") or entry_id
        if entry_covered(selections, fields, stream_id_key(original)[0]):
            found.entry_ids.append(entry_id)
    return found


def older_than(moment: datetime, keep: list[Held] | tuple[Held, ...] = ()) -> Found:
    """Dead letters past their own retention: rows created, entries dead-lettered, before `moment`,
    except those a legal hold in `keep` matches."""
    cfg = streams.StreamConfig.from_settings()
    found = Found(stream=cfg.dead_stream)
    for row_id, entry_id, fields in DeadLetter.objects.filter(stream=cfg.stream, created_at__lt=moment).values_list(
            "id", "entry_id", "fields").iterator(chunk_size=2000):
        if keep and entry_held(keep, fields, stream_id_key(entry_id)[0]):
            found.held += 1
        else:
            found.row_ids.append(row_id)
    limit_ms = int(moment.timestamp() * 1000)
    for entry_id, raw in streams.scan_range(streams.connection(), cfg.dead_stream, "-", f"({limit_ms}-0"):
        fields = text_fields(raw)
        if keep and entry_held(keep, fields, stream_id_key(fields.get("original_id") or entry_id)[0]):
            found.held += 1
        else:
            found.entry_ids.append(entry_id)
    return found


def remove(found: Found) -> dict:
    deleted = streams.delete_entries(streams.connection(), found.stream, found.entry_ids) if found.entry_ids else 0
    rows = 0
    for start in range(0, len(found.row_ids), 1000):
        rows += DeadLetter.objects.filter(id__in=found.row_ids[start:start + 1000]).delete()[0]
    return {"rows": rows, "stream_entries": deleted}
