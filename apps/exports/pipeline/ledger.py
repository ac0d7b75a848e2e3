"""Batch ledger rows and their locks: a PostgreSQL advisory lock marks a batch as being worked on.

Locks live on one database session per exporter, opened for that purpose, so a crashed
exporter's locks vanish with its connection and its recorded batches become recoverable at
once, without guessing from idle times. The session is shared by the exporter's threads
(psycopg serialises its use), so a batch can be locked by the reader and released by the writer.
"""

from __future__ import annotations

import threading
import uuid

from django.utils import timezone

from apps.core import postgres
from apps.exports.models import BatchState, ExportBatch

UNFINISHED = (BatchState.RECORDED, BatchState.WRITTEN)
_LOCK_NAMESPACE = 0x41524348  # "ARCH": keeps our advisory keys apart from other users'


def _key(batch_id: uuid.UUID) -> int:
    return int.from_bytes(batch_id.bytes[:4], "big", signed=True)


class BatchLocks:
    def __init__(self) -> None:
        self._conn = postgres.connect(autocommit=True, application_name="archive-exporter-locks")
        self._mutex = threading.Lock()

    def try_lock(self, batch_id: uuid.UUID) -> bool:
        with self._mutex:
            row = self._conn.execute("SELECT pg_try_advisory_lock(%s, %s)", [_LOCK_NAMESPACE, _key(batch_id)])
            return row.fetchone()[0]

    def unlock(self, batch_id: uuid.UUID) -> None:
        with self._mutex:
            self._conn.execute("SELECT pg_advisory_unlock(%s, %s)", [_LOCK_NAMESPACE, _key(batch_id)])

    def close(self) -> None:
        with self._mutex:
            self._conn.close()


def record(
    locks: BatchLocks, *, stream: str, group: str, consumer: str, entry_ids: list[str], sinks: list[str]
) -> ExportBatch:
    """Create the ledger row, already locked by us."""
    batch_id = uuid.uuid4()
    while not locks.try_lock(batch_id):  # a key collision with a live batch; pick another id
        batch_id = uuid.uuid4()
    return ExportBatch.objects.create(
        id=batch_id,
        stream=stream,
        group=group,
        consumer=consumer,
        entry_id_text=" ".join(entry_ids),
        entry_count=len(entry_ids),
        first_id=entry_ids[0],
        last_id=entry_ids[-1],
        sinks=sinks,
    )


def mark(batch: ExportBatch, **fields) -> None:
    """Persist progress at once (autocommit): a crash after this line never repeats the step."""
    for name, value in fields.items():
        setattr(batch, name, value)
    batch.save(update_fields=list(fields))


def now():
    return timezone.now()


def unfinished(stream: str, group: str):
    return ExportBatch.objects.filter(stream=stream, group=group, state__in=UNFINISHED).order_by("created_at")
