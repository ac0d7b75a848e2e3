"""Record-level exactly-once: a record, named by (job_id, retries), is archived at most once.

Batch ids make a replay of one batch idempotent, but the same record can also come back in a
new batch: a producer that retried its XADD, a consumer group moved back, acknowledgements lost
in a Redis failover, a stream restored from a backup. So every batch claims the keys of its
records before writing anything (`apps.exports.pipeline.key_index`): a key another batch
claimed first is a duplicate, dropped and counted. A claim is idempotent per batch, so a
replayed batch owns exactly the keys it owned the first time and writes exactly the same rows
(the ClickHouse deduplication token relies on that).

The key is BLAKE2b-128 of the job id and the attempt number, never the values themselves. Keys
are kept for `ARCHIVE_DEDUP_WINDOW` (default 7 days) after the later of the record's enqueue day
and the day it was archived; a record that comes back after that is archived again.
"""

from __future__ import annotations

from datetime import date, timedelta
from functools import cache
from hashlib import blake2b

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils import timezone

from apps.core.durations import DurationError, parse_duration

_SEPARATOR = b"\x1f"
_DAY_MS = 86_400_000
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
    """`raw_key` of every entry, from the batch's raw binary columns (the exporter's hot path:
    the checks run on whole columns, Python only hashes)."""
    spellings = pc.dictionary_encode(retries)
    suffixes = [_suffix(attempt) for attempt in spellings.dictionary.to_pylist()]
    absent = len(suffixes)  # entries without the field: attempt 0
    suffixes.append(_suffix(None))
    which = pc.fill_null(spellings.indices, absent).to_numpy(zero_copy_only=False)
    lengths = pc.fill_null(pc.binary_length(job_ids), 0).to_numpy(zero_copy_only=False)
    plain_job_id = (lengths > 0) & (lengths <= 128)
    if plain_job_id.all() and all(s is not None for s in suffixes):  # the usual batch
        return [blake2b(j + suffixes[w], digest_size=16).digest() for j, w in zip(job_ids.to_pylist(), which.tolist())]
    return [blake2b(j + suffixes[w], digest_size=16).digest() if ok and suffixes[w] is not None else None
            for j, w, ok in zip(job_ids.to_pylist(), which.tolist(), plain_job_id.tolist())]


def row_keys(table: pa.Table, entry_index, entry_keys: list[bytes | None]) -> list[bytes]:
    """The key of every row of a transformed batch: its entry's raw key, or computed from the record."""
    keys = [entry_keys[i] for i in entry_index.tolist()]
    missing = [row for row, key in enumerate(keys) if key is None] if None in entry_keys else []
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
