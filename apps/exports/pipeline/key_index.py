"""Which records are archived: their keys, kept in PostgreSQL as runs and looked up in memory.

Every batch claims the keys of its records before it writes them (apps.exports.pipeline.dedup).
The keys are stored in PostgreSQL one *run* per claim (`exports_keyrun`: the batch, an expiry, its
keys as one byte string), so a claim costs one row, not one index entry per record. Each
process keeps an index of every run in the window in memory: sorted NumPy arrays of the keys'
two 64-bit halves and their runs (24 bytes per record), looked up with binary search. The runs are the truth; the index
is rebuilt from them whenever it cannot be sure it has them all.

Claims are serialised across every process by a PostgreSQL advisory lock held for the claim's
transaction: under it the index catches up with the runs committed since it last looked, tells
which keys another batch (or a purge) owns, and the batch's run of new keys is inserted. So two
exporters can never both own a key, and a claim is idempotent per batch: a replay finds its run.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import date
from uuid import UUID

import numpy as np
from django.db import connection as django_connection
from django.utils import timezone

from apps.core import postgres

_LOCK = (0x41524348, 2)  # "ARCH", the claims' key (batch locks and runs use other keys)


def _halves(raw: bytes) -> tuple[np.ndarray, np.ndarray]:
    """16-byte keys as two big-endian 64-bit halves: sorting and searching numbers is fast."""
    both = np.frombuffer(raw, dtype=">u8").astype(np.uint64)
    return both[0::2], both[1::2]


def _raw(hi: np.ndarray, lo: np.ndarray) -> bytes:
    return np.column_stack([hi, lo]).astype(">u8").tobytes()


@dataclass
class _Chunk:
    hi: np.ndarray  # sorted; keys are random, so equal high halves are rare
    lo: np.ndarray
    runs: np.ndarray  # the run id of each key, int64


@dataclass
class _Index:
    """Every key of every unexpired run this process has seen, for one database."""

    database: str = ""
    runs: dict[int, tuple[UUID | None, date]] = field(default_factory=dict)  # id -> (batch, expires_on)
    chunks: list[_Chunk] = field(default_factory=list)
    last_id: int = 0
    pruned_on: date | None = None

    def add(self, run_id: int, batch: UUID | None, expires: date, hi: np.ndarray, lo: np.ndarray) -> None:
        self.runs[run_id] = (batch, expires)
        self.last_id = max(self.last_id, run_id)
        order = np.argsort(hi, kind="stable")
        self.chunks.append(_Chunk(hi[order], lo[order], np.full(len(hi), run_id, dtype=np.int64)))
        # Merge like a binary counter: O(log n) chunks, each key merged O(log n) times.
        while len(self.chunks) > 1 and len(self.chunks[-2].hi) <= 2 * len(self.chunks[-1].hi):
            right, left = self.chunks.pop(), self.chunks.pop()
            hi = np.concatenate([left.hi, right.hi])
            order = np.argsort(hi, kind="stable")
            self.chunks.append(_Chunk(hi[order], np.concatenate([left.lo, right.lo])[order],
                                      np.concatenate([left.runs, right.runs])[order]))

    def drop_expired(self, today: date) -> None:
        if self.pruned_on == today:
            return
        expired = np.array([i for i, (_, expires) in self.runs.items() if expires < today], dtype=np.int64)
        if len(expired):
            for chunk in self.chunks:
                keep = ~np.isin(chunk.runs, expired)
                chunk.hi, chunk.lo, chunk.runs = chunk.hi[keep], chunk.lo[keep], chunk.runs[keep]
            for run_id in expired.tolist():
                del self.runs[run_id]
        self.pruned_on = today

    def holders(self, hi: np.ndarray, lo: np.ndarray) -> tuple[list[int], list[int]]:
        """(position in the query, run id) of every run that holds one of the queried keys."""
        positions, runs = [], []
        for chunk in self.chunks:
            if not len(chunk.hi):
                continue
            at = np.searchsorted(chunk.hi, hi)
            inside = at < len(chunk.hi)
            candidates = np.flatnonzero(inside)[chunk.hi[at[inside]] == hi[inside]]
            for position in candidates.tolist():  # rare: a duplicate, or a replay's own keys
                i = int(at[position])
                while i < len(chunk.hi) and chunk.hi[i] == hi[position]:
                    if chunk.lo[i] == lo[position]:
                        positions.append(position)
                        runs.append(int(chunk.runs[i]))
                    i += 1
        return positions, runs


_index = _Index()
_index_lock = threading.Lock()


def _catch_up(conn, today: date) -> None:
    """Bring the index up to the runs committed so far (the caller holds the claims' lock).

    Runs are committed in id order (claims are serialised), so the ones above the last id seen
    are new. If the runs in the window are not exactly those, some were deleted (a cleanup, a
    test database flushed): read them all again.
    """
    global _index
    database = django_connection.settings_dict["NAME"]
    if _index.database != database:
        _index = _Index(database=database)
    _index.drop_expired(today)
    count, new = conn.execute("SELECT count(*), count(*) FILTER (WHERE id > %s) FROM exports_keyrun "
                              "WHERE expires_on >= %s", [_index.last_id, today]).fetchone()
    if count != len(_index.runs) + new:
        _index = _Index(database=database)
    for run_id, batch, expires, keys in conn.execute(
            "SELECT id, batch, expires_on, keys FROM exports_keyrun WHERE id > %s AND expires_on >= %s ORDER BY id",
            [_index.last_id, today]):
        _index.add(run_id, batch, expires, *_halves(bytes(keys)))


class KeyClaims:
    """A PostgreSQL session of its own for claiming keys (one claim at a time per session)."""

    def __init__(self) -> None:
        self._conn = postgres.connect(application_name="archive-exporter-keys")
        self._lock = threading.Lock()

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def claim(self, batch_id: UUID | None, keys: list[bytes], expires: date) -> set[bytes]:
        """Claim `keys` (distinct) for the batch; returns those another batch (or a purge) owns.

        `batch_id` None marks the keys purged: a purge's run, which every batch finds foreign.
        """
        if not keys:
            return set()
        hi, lo = _halves(b"".join(keys))
        today = timezone.now().date()
        with self._lock, _index_lock, self._conn.transaction():
            self._conn.execute("SELECT pg_advisory_xact_lock(%s, %s)", list(_LOCK))
            _catch_up(self._conn, today)
            positions, runs = _index.holders(hi, lo)
            foreign = {p for p, r in zip(positions, runs) if batch_id is None or _index.runs[r][0] != batch_id}
            new = np.ones(len(hi), dtype=bool)
            if batch_id is not None:  # a purge's run holds every key; a replay finds its own run: nothing new
                new[positions] = False
            if new.any():
                order = np.argsort(hi[new], kind="stable")
                new_hi, new_lo = hi[new][order], lo[new][order]
                run_id = self._conn.execute(
                    "INSERT INTO exports_keyrun (batch, expires_on, keys, created_at) VALUES (%s, %s, %b, now()) "
                    "RETURNING id", [batch_id, expires, _raw(new_hi, new_lo)]).fetchone()[0]
                _index.add(run_id, batch_id, expires, new_hi, new_lo)
        return {keys[p] for p in foreign}


def purge_keys(keys: list[bytes], expires: date) -> int:
    """Mark these records purged (a run without a batch); returns how many keys it marked."""
    distinct = list(dict.fromkeys(keys))
    claims = KeyClaims()
    try:
        claims.claim(None, distinct, expires)
    finally:
        claims.close()
    return len(distinct)


def prune(today: date) -> int:
    """Forget the runs past their expiry; returns how many keys they held."""
    from apps.exports.models import KeyRun

    expired = KeyRun.objects.filter(expires_on__lt=today)
    keys = sum(len(run) // 16 for run in expired.values_list("keys", flat=True))
    expired.delete()
    return keys
