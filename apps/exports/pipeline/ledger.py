"""Batch ledger rows and their locks: a PostgreSQL advisory lock marks a batch as being worked on.

Locks live on one database session per exporter, opened for that purpose, so a crashed
exporter's locks vanish with its connection and its recorded batches become recoverable at
once, without guessing from idle times. The session is shared by the exporter's threads
(psycopg serialises its use), so a batch can be locked by the reader and released by the writer.

A session can also die under a running exporter (a restarted or failed-over PostgreSQL, a
killed backend): its locks are gone and another exporter may take its batches. `ensure_held`
notices before a batch is acknowledged; the sinks stay safe meanwhile on their own (the
ClickHouse token, the atomic Iceberg check), so two exporters on one batch still write it once.
"""

from __future__ import annotations

import threading
import uuid
from datetime import datetime

import psycopg
from django.db import connection, transaction
from django.utils import timezone

from apps.core import postgres
from apps.exports.models import BatchState, ExportBatch

UNFINISHED = (BatchState.RECORDED, BatchState.WRITTEN)
_LOCK_NAMESPACE = 0x41524348  # "ARCH": keeps our advisory keys apart from other users'


def _key(batch_id: uuid.UUID) -> int:
    return int.from_bytes(batch_id.bytes[:4], "big", signed=True)


class LockLost(RuntimeError):
    """This exporter's lock session died: another exporter may be finishing the batch now."""


class BatchLocks:
    def __init__(self) -> None:
        self._conn = self._open()
        self._mutex = threading.Lock()

    @staticmethod
    def _open() -> psycopg.Connection:
        return postgres.connect(autocommit=True, application_name="archive-exporter-locks")

    def _execute(self, sql: str, params: list):
        """Run on the lock session; a dead session is replaced for the next call (its locks are gone)."""
        with self._mutex:
            if self._conn.closed:
                self._conn = self._open()
            try:
                return self._conn.execute(sql, params).fetchone()
            except psycopg.OperationalError:
                if not self._conn.closed and not self._conn.broken:
                    raise
                self._conn.close()
                raise LockLost("the exporter's lock session to PostgreSQL was lost") from None

    @property
    def backend_pid(self) -> int:
        return self._conn.info.backend_pid

    def try_lock(self, batch_id: uuid.UUID) -> bool:
        return self._execute("SELECT pg_try_advisory_lock(%s, %s)", [_LOCK_NAMESPACE, _key(batch_id)])[0]

    def unlock(self, batch_id: uuid.UUID) -> None:
        try:
            self._execute("SELECT pg_advisory_unlock(%s, %s)", [_LOCK_NAMESPACE, _key(batch_id)])
        except LockLost:
            pass  # nothing left to unlock

    def ensure_held(self, batch_id: uuid.UUID) -> None:
        """Raise LockLost unless this session still holds the batch's lock."""
        held = self._execute(
            "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid() "
            "AND granted AND objsubid = 2 AND classid = %s::oid AND objid = %s::oid)",
            [_LOCK_NAMESPACE, _key(batch_id) & 0xFFFFFFFF])[0]
        if not held:
            raise LockLost(f"the lock on batch {batch_id} was lost (its PostgreSQL session ended); "
                           "another exporter may finish it")

    def wait_until_free(self, batch_id: uuid.UUID, *, timeout_s: float) -> None:
        """Block until no exporter holds the batch (it finished, or its exporter is gone)."""
        self._execute("SELECT set_config('lock_timeout', %s, false)", [f"{int(timeout_s * 1000)}ms"])
        self._execute("SELECT pg_advisory_lock(%s, %s)", [_LOCK_NAMESPACE, _key(batch_id)])
        self.unlock(batch_id)

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


class BatchFinished(RuntimeError):
    """Another exporter acknowledged the batch meanwhile (it took it over from a lost lock)."""


def mark(batch: ExportBatch, **fields) -> None:
    """Persist progress at once (autocommit): a crash after this line never repeats the step.

    An acknowledged batch is final: a late write from an exporter that lost the batch to
    another changes nothing and raises BatchFinished.
    """
    updated = ExportBatch.objects.filter(pk=batch.pk).exclude(state=BatchState.ACKNOWLEDGED).update(**fields)
    if not updated:
        raise BatchFinished(f"batch {batch.id} was acknowledged by another exporter meanwhile "
                            "(this one had lost it, e.g. its lock session ended); nothing more to do")
    for name, value in fields.items():
        setattr(batch, name, value)


def now():
    return timezone.now()


# Daily totals grow by one acknowledged batch, in the transaction that marks it: never twice.
_ADD_TO_DAY = """
INSERT INTO exports_exportday (stream, day, batches, records, clickhouse_records, iceberg_records, dead_letters,
                               duplicates)
VALUES (%(stream)s, %(day)s, 1, %(records)s, %(clickhouse)s, %(iceberg)s, %(dead)s, %(duplicates)s)
ON CONFLICT (stream, day) DO UPDATE SET
    batches = exports_exportday.batches + 1,
    records = exports_exportday.records + EXCLUDED.records,
    clickhouse_records = exports_exportday.clickhouse_records + EXCLUDED.clickhouse_records,
    iceberg_records = exports_exportday.iceberg_records + EXCLUDED.iceberg_records,
    dead_letters = exports_exportday.dead_letters + EXCLUDED.dead_letters,
    duplicates = exports_exportday.duplicates + EXCLUDED.duplicates
"""


@transaction.atomic
def acknowledge(batch: ExportBatch) -> None:
    """Mark the batch done and count it in its day's totals, both or neither, once."""
    from apps.exports.pipeline import sinks

    mark(batch, state=BatchState.ACKNOWLEDGED, acknowledged_at=now())
    with connection.cursor() as cursor:
        cursor.execute(_ADD_TO_DAY, {
            "stream": batch.stream, "day": batch.acknowledged_at.date(), "records": batch.records,
            "clickhouse": batch.records if sinks.CLICKHOUSE in batch.sinks else 0,
            "iceberg": batch.records if sinks.ICEBERG in batch.sinks else 0,
            "dead": batch.dead_letters, "duplicates": batch.duplicates,
        })


def prune(*, acknowledged_before: datetime) -> int:
    """Delete acknowledged batch rows older than the horizon; unfinished ones always stay (recovery)."""
    done = ExportBatch.objects.filter(state=BatchState.ACKNOWLEDGED, acknowledged_at__lt=acknowledged_before)
    deleted = 0
    while ids := list(done.values_list("id", flat=True)[:1000]):  # chunks: the rows carry every entry id
        deleted += ExportBatch.objects.filter(id__in=ids).only("id").delete()[1].get(ExportBatch._meta.label, 0)
    return deleted


def unfinished(stream: str, group: str):
    return ExportBatch.objects.filter(stream=stream, group=group, state__in=UNFINISHED).order_by("created_at")
