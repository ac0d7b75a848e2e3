"""Place: the archive stream, its entries whether read or not, pending in a consumer group or not.

A removal must be final: an entry still pending would otherwise be exported after the purge and
bring its record back. So the records' keys are marked purged first (no batch will write them
from then on), batches already working on those entries are waited for (their writes land
before the tiers are cleaned), and then the entries are acknowledged in every group and deleted.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.conf import settings

from apps.exports.pipeline import dedup, ledger
from apps.places.selection import Selection, entry_covered
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


def _text(raw: dict[bytes, bytes]) -> dict[str, str]:
    return {k.decode(errors="replace"): v.decode(errors="replace") for k, v in raw.items()}


def _key(fields: dict[str, str]) -> bytes | None:
    """The record key of an entry, if it names a record (see apps.exports.pipeline.dedup)."""
    job_id, retries = fields.get("job_id", ""), fields.get("retries", "") or "0"
    if not job_id or not retries.isdigit():
        return None
    return dedup.record_key(job_id.encode(), int(retries))


def _unacknowledged(r, cfg: streams.StreamConfig) -> tuple[set[str], str | None]:
    """The exporters' pending entry ids, and their group's last delivered id (later ones are unread)."""
    groups = {g["name"].decode() if isinstance(g["name"], bytes) else g["name"]: g for g in r.xinfo_groups(cfg.stream)}
    group = groups.get(cfg.group)
    if group is None:
        return set(), None
    pending = set()
    start = "-"
    while True:
        chunk = r.xpending_range(cfg.stream, cfg.group, min=start, max="+", count=5000)
        pending.update(p["message_id"].decode() if isinstance(p["message_id"], bytes) else p["message_id"] for p in chunk)
        if len(chunk) < 5000:
            break
        start = f"({chunk[-1]['message_id'].decode() if isinstance(chunk[-1]['message_id'], bytes) else chunk[-1]['message_id']}"
    last = group["last-delivered-id"]
    return pending, last.decode() if isinstance(last, bytes) else last


def preview(selections: list[Selection]) -> Found:
    cfg = streams.StreamConfig.from_settings()
    r = streams.connection()
    found = Found(stream=cfg.stream)
    if not selections or not r.exists(cfg.stream):
        return found
    pending, last_delivered = _unacknowledged(r, cfg)
    for entry_id, raw in streams.scan_range(r, cfg.stream, "-", "+"):
        fields = _text(raw)
        if not entry_covered(selections, fields, stream_id_key(entry_id)[0]):
            continue
        found.ids.append(entry_id)
        if (key := _key(fields)) is not None:
            found.keys.append(key)
        if entry_id in pending or last_delivered is None or stream_id_key(entry_id) > stream_id_key(last_delivered):
            found.pending += 1
    return found


def remove(found: Found) -> dict:
    if not found.ids:
        return {"entries": 0, "keys_marked_purged": 0}
    marked = dedup.purge_keys(found.keys)
    _wait_for_batches_holding(set(found.ids))
    r = streams.connection()
    for group in r.xinfo_groups(found.stream):
        name = group["name"].decode() if isinstance(group["name"], bytes) else group["name"]
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
