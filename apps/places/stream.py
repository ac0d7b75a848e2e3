"""Place: the archive stream, its entries whether read or not, pending in a consumer group or not.

A removal must be final: an entry still pending would otherwise be exported after the purge and
bring its record back. So the records' keys are marked purged first (no batch will write them
from then on), batches already working on those entries are waited for (their writes land
before the tiers are cleaned), and then the entries are acknowledged in every group and deleted.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.conf import settings

from django.utils import timezone

from apps.exports.pipeline import dedup, key_index, ledger
from apps.places.selection import Selection, entry_covered, text_fields
from apps.records.contract import ContractError, parse_entry
from apps.stream import client as streams
from apps.stream.client import stream_id_key

NAME = "redis"
BATCH_WAIT_S = 600


@dataclass
class Found:
    stream: str
    ids: list[str] = field(default_factory=list)
    keys: list[bytes] = field(default_factory=list)
    pending: int = 0  # of them, not yet acknowledged by the exporters' group

    def summary(self) -> dict:
        return {"entries": len(self.ids), "pending": self.pending}


def _unacknowledged(r, cfg: streams.StreamConfig) -> tuple[set[str], str | None]:
    """The exporters' pending entry ids, and their group's last delivered id (later ones are unread)."""
    group = next((g for g in r.xinfo_groups(cfg.stream) if _text(g["name"]) == cfg.group), None)
    if group is None:
        return set(), None
    pending: set[str] = set()
    start = "-"
    while chunk := r.xpending_range(cfg.stream, cfg.group, min=start, max="+", count=5000):
        pending.update(_text(p["message_id"]) for p in chunk)
        start = f"({_text(chunk[-1]['message_id'])}"
    return pending, _text(group["last-delivered-id"])


def _record_key(entry_id: str, raw: dict[bytes, bytes]) -> bytes | None:
    """The key the exporter would claim for this entry; None for an entry that is not a record."""
    key = dedup.raw_key(raw.get(b"job_id"), raw.get(b"retries"))
    if key is not None:
        return key
    try:  # an unusual spelling the contract may still accept ("+1" for an attempt, say)
        record, _ = parse_entry(entry_id, raw)
    except ContractError:
        return None
    return dedup.record_key(record["job_id"].encode(), record["retries"])


def _text(value) -> str:
    return value.decode() if isinstance(value, bytes) else value


def preview(selections: list[Selection]) -> Found:
    cfg = streams.StreamConfig.from_settings()
    r = streams.connection()
    found = Found(stream=cfg.stream)
    if not selections or not r.exists(cfg.stream):
        return found
    pending, last_delivered = _unacknowledged(r, cfg)
    for entry_id, raw in streams.scan_range(r, cfg.stream, "-", "+"):
        if not entry_covered(selections, text_fields(raw), stream_id_key(entry_id)[0]):
            continue
        found.ids.append(entry_id)
        if (key := _record_key(entry_id, raw)) is not None:
            found.keys.append(key)
        if entry_id in pending or last_delivered is None or stream_id_key(entry_id) > stream_id_key(last_delivered):
            found.pending += 1
    return found


def remove(found: Found) -> dict:
    if not found.ids:
        return {"entries": 0, "keys_marked_purged": 0}
    marked = key_index.purge_keys(found.keys, timezone.now().date() + dedup.window())
    _wait_for_batches_holding(set(found.ids))
    r = streams.connection()
    for group in r.xinfo_groups(found.stream):
        name = _text(group["name"])
        for start in range(0, len(found.ids), 5000):
            r.xack(found.stream, name, *found.ids[start:start + 5000])
    deleted = streams.delete_entries(r, found.stream, found.ids)
    return {"entries": deleted, "keys_marked_purged": marked}


def _wait_for_batches_holding(ids: set[str]) -> None:
    """A batch that had read some of these entries finishes first (or is found abandoned): whatever it
    writes is then in the tiers before they are cleaned, and a replay of it finds the keys purged."""
    batches = [b.id for b in ledger.unfinished(settings.ARCHIVE_STREAM, settings.ARCHIVE_CONSUMER_GROUP)
               if not ids.isdisjoint(b.entry_ids)]
    if not batches:
        return
    locks = ledger.BatchLocks()
    try:
        for batch_id in batches:
            locks.wait_until_free(batch_id, timeout_s=BATCH_WAIT_S)
    finally:
        locks.close()
