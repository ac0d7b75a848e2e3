"""Batch ledger rows and their locks: a PostgreSQL advisory lock marks a batch as being worked on.

The lock lives on the worker's database session, so a crashed exporter's locks vanish with its
connection and its recorded batches become recoverable at once, without guessing from idle times.
"""

from __future__ import annotations

import uuid

from django.db import connection
from django.utils import timezone

from apps.exports.models import BatchState, ExportBatch

UNFINISHED = (BatchState.RECORDED, BatchState.WRITTEN)
_LOCK_NAMESPACE = 0x41524348  # "ARCH": keeps our advisory keys apart from other users'


def _key(batch_id: uuid.UUID) -> int:
    return int.from_bytes(batch_id.bytes[:4], "big", signed=True)


def try_lock(batch_id: uuid.UUID) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", [_LOCK_NAMESPACE, _key(batch_id)])
        return cursor.fetchone()[0]


def unlock(batch_id: uuid.UUID) -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_unlock(%s, %s)", [_LOCK_NAMESPACE, _key(batch_id)])


def record(*, stream: str, group: str, consumer: str, entry_ids: list[str], sinks: list[str]) -> ExportBatch:
    """Create the ledger row, already locked by us."""
    batch_id = uuid.uuid4()
    while not try_lock(batch_id):  # a key collision with a live batch; pick another id
        batch_id = uuid.uuid4()
    return ExportBatch.objects.create(
        id=batch_id,
        stream=stream,
        group=group,
        consumer=consumer,
        entry_ids=entry_ids,
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
