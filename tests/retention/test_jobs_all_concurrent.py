"""Readers of jobs_all while tiering and compaction run: every answer counts each record exactly once."""

from __future__ import annotations

import threading
import time

from apps.retention.models import RetentionPolicy
from apps.retention.services import retention_run
from apps.warehouse import client as ch
from tests.actors import TESTS
from tests.retention.helpers import T0, days, export, produce, warm_days

RECORDS = 2400


def test_jobs_all_stays_exact_while_data_moves(archive, settings):
    # A real grace period: markers take effect after 1 s and warm rows go 1 s after that.
    settings.ARCHIVE_TIERING_GRACE_SECONDS = 1
    RetentionPolicy.objects.create(warm_days=4)
    for part in range(6):  # six exports: several files per day for compaction
        produce(archive, RECORDS // 6, now=T0, days=12, seed=60 + part)
        export()
    seen: list[tuple[int, int]] = []
    stop = threading.Event()

    def read() -> None:
        while not stop.is_set():
            row = ch.query("SELECT count(), uniqExact(job_id, retries) FROM {db}.jobs_all", tag="test").result_rows[0]
            seen.append((int(row[0]), int(row[1])))

    reader = threading.Thread(target=read)
    reader.start()
    try:
        first = retention_run(actor=TESTS, dry_run=False, as_of=T0, steps=("tiering", "compaction"))
        assert first.result["tiering"]["waiting_for_grace"] > 0  # marked, warm rows kept for now
        time.sleep(2.2)
        second = retention_run(actor=TESTS, dry_run=False, as_of=T0, steps=("tiering", "cleanup"))
        assert second.result["tiering"]["evicted_records"] > 0
    finally:
        stop.set()
        reader.join()
    assert len(seen) > 5
    assert set(seen) == {(RECORDS, RECORDS)}
    assert min(warm_days()) >= str((T0 - days(4)).date())
