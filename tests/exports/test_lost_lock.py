"""Two exporters on one batch, because the first one's lock session died under it: the batch is
appended to Iceberg once, and the first exporter notices it lost the batch."""

from __future__ import annotations

import threading
import time

import psycopg
from django.db import connection
from pyiceberg.table import Table

from apps.core import postgres
from apps.exports.exporter import Exporter
from apps.exports.models import BatchState, ExportBatch, ExportError
from apps.lake.table import BATCH_PROPERTY, load_table
from apps.stream.demo import generate


def test_two_exporters_on_one_batch_append_it_once_when_a_lock_session_dies(archive, monkeypatch):
    pipe = archive.redis.pipeline()
    for fields in generate(500, seed=51):
        pipe.xadd(archive.stream, fields)
    pipe.execute()

    # Hold the first exporter right before its Iceberg commit: its table state was read and checked.
    at_commit, go = threading.Event(), threading.Event()
    original = Table._do_commit

    def held_commit(self, updates, requirements):
        if threading.current_thread().name == "exporter-a" and not at_commit.is_set():
            at_commit.set()
            assert go.wait(120)
        return original(self, updates, requirements)

    monkeypatch.setattr(Table, "_do_commit", held_commit)
    first = Exporter(consumer="a", batch_size=1000)
    outcome = {}

    def run_first():
        try:
            outcome["a"] = first.run()
        finally:
            connection.close()  # this thread's own database connection

    thread = threading.Thread(target=run_first, name="exporter-a")
    thread.start()
    try:
        assert at_commit.wait(120), "the first exporter never reached its Iceberg commit"
        batch = ExportBatch.objects.get()

        # Its lock session dies (a PostgreSQL restart, a killed backend): the batch looks abandoned.
        with postgres.connect(autocommit=True) as admin:
            killed = admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() "
                "AND application_name = 'archive-exporter-locks'").fetchall()
            # pg_terminate_backend only signals: the session (and its locks) ends a moment later.
            for _ in range(200):
                left = admin.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                                     "AND application_name = 'archive-exporter-locks'").fetchone()[0]
                if not left:
                    break
                time.sleep(0.05)
        assert killed == [(True,)]
        second = Exporter(consumer="b", batch_size=1000).run()
        assert second.recovered_batches == 1 and second.records == 500
    finally:
        go.set()
        thread.join(120)

    table = load_table()
    appended = [s for s in table.metadata.snapshots
                if s.summary and s.summary.additional_properties.get(BATCH_PROPERTY) == str(batch.id)]
    assert len(appended) == 1
    assert archive.iceberg_rows().num_rows == 500
    assert archive.clickhouse_count() == 500
    # The first exporter noticed that it lost the batch instead of acknowledging it as its own.
    assert outcome["a"].records == 0 and "another exporter" in outcome["a"].errors[0]
    assert ExportError.objects.filter(batch=batch, message__icontains="another exporter").exists()
    batch.refresh_from_db()
    assert batch.state == BatchState.ACKNOWLEDGED and batch.attempts == 2
    assert archive.redis.xpending(archive.stream, "archive-exporter")["pending"] == 0


def test_an_exporter_whose_lock_session_died_opens_a_new_one(archive):
    """The next batches are locked on a fresh session: a dead session does not stop the exporter."""
    from apps.exports.pipeline.ledger import BatchLocks, LockLost
    import uuid

    locks = BatchLocks()
    batch_id = uuid.uuid4()
    assert locks.try_lock(batch_id)
    with postgres.connect(autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", [locks.backend_pid])
    try:
        locks.ensure_held(batch_id)
    except (LockLost, psycopg.OperationalError) as exc:
        assert isinstance(exc, LockLost), exc
    else:
        raise AssertionError("a lock of a dead session was reported as held")
    assert locks.try_lock(batch_id)  # a new session, and the lock is free again
    locks.ensure_held(batch_id)
    locks.close()
