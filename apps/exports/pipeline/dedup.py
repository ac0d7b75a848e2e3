"""Record-level exactly-once: a record, named by (job_id, retries), is archived at most once.

Batch ids make a replay of one batch idempotent, but the same record can also come back in a
new batch: a producer that retried its XADD, a consumer group moved back, acknowledgements lost
in a Redis failover, a stream restored from a backup. So every batch claims the keys of its
records in PostgreSQL (`RecordKey`, one row per record, primary key = the record's key) before
writing anything: a key another batch claimed first is a duplicate, dropped and counted. A
claim is idempotent per batch, so a replayed batch owns exactly the keys it owned the first
time and writes exactly the same rows (the ClickHouse deduplication token relies on that).

The key is BLAKE2b-128 of the job id and the attempt number, never the values themselves. Keys
are kept for `ARCHIVE_DEDUP_WINDOW` (default 7 days) after the later of the record's enqueue day
and the day it was archived; a record that comes back after that is archived again.

The claim is sent before the batch is transformed and runs in PostgreSQL while this process
transforms (keys come from the raw fields); entries that the transform then dead-letters have
their claims released, so a fixed and re-queued dead letter is archived like any record.
"""

from __future__ import annotations

import threading
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import date, timedelta
from functools import cache
from hashlib import blake2b
from uuid import UUID

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils import timezone

from apps.core import postgres
from apps.core.durations import DurationError, parse_duration

_SEPARATOR = b"\x1f"
_DAY_MS = 86_400_000
_TABLE = "exports_recordkey"
# The keys travel as one bytea of 16-byte digests: much cheaper than an array of uuid values.
# Callers pass distinct keys.
_KEYS = "SELECT encode(substring(%(keys)s::bytea FROM i * 16 + 1 FOR 16), 'hex')::uuid AS key " \
        "FROM generate_series(0, %(count)s - 1) AS i"


@cache
def window() -> timedelta:
    try:
        return parse_duration(settings.ARCHIVE_DEDUP_WINDOW)
    except DurationError as exc:
        raise ImproperlyConfigured(f"ARCHIVE_DEDUP_WINDOW: {exc}") from None


def record_key(job_id: bytes, retries: int) -> bytes:
    """The 16-byte name of one record; the same whichever path (fast or row) accepted it."""
    return blake2b(job_id + _SEPARATOR + str(retries).encode(), digest_size=16).digest()


def _suffix(attempt: bytes | None) -> bytes | None:
    """What follows the job id in a key, for an attempt number as sent; None for a spelling that
    only the contract's row path may accept ("+1", " 1"...)."""
    if not attempt:
        return _SEPARATOR + b"0"
    if attempt.isdigit() and len(attempt) <= 9:
        return _SEPARATOR + str(int(attempt)).encode()
    return None


def raw_key(job_id: bytes | None, attempt: bytes | None) -> bytes | None:
    """The key of one raw entry (job id and attempt number as sent), or None where not plain."""
    suffix = _suffix(attempt)
    if suffix is None or not job_id or len(job_id) > 128:
        return None
    return blake2b(job_id + suffix, digest_size=16).digest()


def raw_keys(job_ids: pa.Array, retries: pa.Array) -> list[bytes | None]:
    """`raw_key` of every entry, from the batch's raw binary columns (the exporter's hot path)."""
    suffixes = {attempt: _suffix(attempt) for attempt in retries.unique().to_pylist()}  # few spellings
    keys: list[bytes | None] = []
    for job_id, attempt in zip(job_ids.to_pylist(), retries.to_pylist()):
        suffix = suffixes[attempt]
        keys.append(blake2b(job_id + suffix, digest_size=16).digest()
                    if suffix is not None and job_id and len(job_id) <= 128 else None)
    return keys


def row_keys(table: pa.Table, entry_index, entry_keys: list[bytes | None]) -> list[bytes]:
    """The key of every row of a transformed batch: its entry's raw key, or computed from the record."""
    keys = [entry_keys[i] for i in entry_index.tolist()]
    missing = [row for row, key in enumerate(keys) if key is None]
    if missing:
        job_ids = table.column("job_id").take(missing).to_pylist()
        attempts = table.column("retries").take(missing).to_pylist()
        for row, job_id, attempt in zip(missing, job_ids, attempts):
            keys[row] = record_key(job_id.encode(), attempt)
    return keys


def expires_on(enqueue_times: pa.Array) -> date:
    """One expiry for a batch: the window after the later of today and its newest enqueue day
    (`enqueue_times` is the raw column; epoch milliseconds count, other spellings are rare and
    leave it at today)."""
    today = timezone.now().date()
    try:
        text = enqueue_times.cast(pa.string())
    except pa.ArrowInvalid:  # not UTF-8 somewhere: that entry is dead-lettered; today will do
        return today + window()
    digits = pc.fill_null(pc.utf8_is_digit(text), False)
    numbers = pc.cast(pc.if_else(pc.and_(digits, pc.less_equal(pc.utf8_length(text), 15)), text, None), pa.int64())
    newest = pc.max(numbers).as_py()
    newest_day = date(1970, 1, 1) + timedelta(days=newest // _DAY_MS) if newest else today
    return max(today, newest_day) + window()


def _blob(keys: list[bytes]) -> dict:
    return {"keys": b"".join(keys), "count": len(keys)}


class KeyClaims:
    """Claims and releases of record keys on a PostgreSQL session of their own.

    One worker thread sends the claims, so a claim runs in PostgreSQL while the exporter's own
    thread transforms the batch; the session is used by one thread at a time.
    """

    def __init__(self) -> None:
        self._conn = postgres.connect(autocommit=True, application_name="archive-exporter-keys")
        self._lock = threading.Lock()
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="archive-keys")

    def close(self) -> None:
        self._thread.shutdown(wait=True)
        with self._lock:
            self._conn.close()

    def claim_soon(self, batch_id: UUID, keys: list[bytes], expires: date) -> Future:
        return self._thread.submit(self.claim, batch_id, keys, expires)

    def claim(self, batch_id: UUID, keys: list[bytes], expires: date) -> set[bytes]:
        """Claim `keys` (distinct) for the batch; returns the keys another batch owns (or a purge)."""
        if not keys:
            return set()
        params = {**_blob(keys), "batch": batch_id, "expires": expires}
        with self._lock:
            inserted = self._conn.execute(
                f"INSERT INTO {_TABLE} (key, batch, expires_on) SELECT key, %(batch)s, %(expires)s "
                f"FROM ({_KEYS}) AS k ON CONFLICT (key) DO NOTHING", params).rowcount
            if inserted == len(keys):
                return set()
            # A replay (its own keys are there already) or duplicates: which keys are not ours?
            rows = self._conn.execute(
                f"SELECT uuid_send(r.key) FROM {_TABLE} r JOIN ({_KEYS}) AS k USING (key) "
                "WHERE r.batch IS DISTINCT FROM %(batch)s", params).fetchall()
        return {bytes(row[0]) for row in rows}

    def release(self, batch_id: UUID, keys: list[bytes]) -> None:
        """Give back keys this batch claimed for entries that turned out not to be records."""
        if not keys:
            return
        with self._lock:
            self._conn.execute(f"DELETE FROM {_TABLE} WHERE batch = %(batch)s AND key IN ({_KEYS})",
                               {**_blob(keys), "batch": batch_id})


def decide(row_keys: list[bytes], table: pa.Table, foreign: set[bytes],
           distinct: int) -> tuple[np.ndarray | None, int]:
    """Rows to keep: the first of each key within the batch (by stream id), unless another batch owns
    it; None when every row stays (the usual case). `distinct` is the number of distinct keys.
    Returns the rows and how many were dropped."""
    if not foreign and distinct == len(row_keys):
        return None, 0
    from apps.stream.client import stream_id_key

    stream_ids = table.column("stream_id").to_pylist()
    best: dict[bytes, int] = {}
    for row, key in enumerate(row_keys):
        if key in foreign:
            continue
        kept = best.get(key)
        if kept is None or stream_id_key(stream_ids[row]) < stream_id_key(stream_ids[kept]):
            best[key] = row
    keep = np.array(sorted(best.values()), dtype=np.int64)
    return keep, len(row_keys) - len(keep)


def purge_keys(keys: list[bytes]) -> int:
    """Mark these records as purged: whatever batch holds or later sends them, they are not written.

    Used by purge for stream entries it removes; returns how many keys it marked.
    """
    if not keys:
        return 0
    distinct = list(dict.fromkeys(keys))
    expires = timezone.now().date() + window()
    with postgres.connect(autocommit=True, application_name="archive-purge-keys") as conn:
        return conn.execute(
            f"INSERT INTO {_TABLE} (key, batch, expires_on) SELECT key, NULL, %(expires)s FROM ({_KEYS}) AS k "
            "ON CONFLICT (key) DO UPDATE SET batch = NULL, expires_on = GREATEST("
            f"{_TABLE}.expires_on, EXCLUDED.expires_on)",
            {**_blob(distinct), "expires": expires}).rowcount


def prune(today: date | None = None) -> int:
    """Forget keys past their expiry (the retention run's bookkeeping step)."""
    from apps.exports.models import RecordKey

    return RecordKey.objects.filter(expires_on__lt=today or timezone.now().date()).delete()[0]
