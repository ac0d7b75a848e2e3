"""Bookkeeping stays small: acknowledged batch rows older than the horizon go at a retention run,
while the status page and /health/ keep showing the right figures."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from apps.exports.exporter import Exporter
from apps.exports.models import DeadLetter, ExportBatch
from apps.exports.selectors import export_status
from apps.retention import services
from apps.stream.demo import generate
from tests.actors import TESTS

BAD = {b"job_id": b"bad-1", b"queue": b"emails", b"outcome": b"exploded", b"enqueue_time": b"1764000000000"}


def _feed(archive, n: int, seed: int) -> None:
    pipe = archive.redis.pipeline()
    for fields in generate(n, seed=seed):
        pipe.xadd(archive.stream, fields)
    pipe.execute()


def test_batch_rows_past_the_horizon_go_and_the_figures_stay(archive, client, settings):
    settings.ARCHIVE_REDIS_RETENTION_HOURS = 24  # the horizon: 24 h + one day
    archive.redis.xadd(archive.stream, BAD)
    _feed(archive, 600, seed=61)
    assert Exporter(batch_size=200).run().records == 600
    old = list(ExportBatch.objects.values_list("id", flat=True))
    # Those batches were acknowledged three days ago; the next ones today.
    three_days_ago = timezone.now() - timedelta(days=3)
    ExportBatch.objects.filter(id__in=old).update(acknowledged_at=three_days_ago, created_at=three_days_ago)
    _feed(archive, 300, seed=62)
    assert Exporter(batch_size=200).run().records == 300
    before = export_status()

    run = services.retention_run(actor=TESTS, dry_run=False, steps=("bookkeeping",))

    assert run.result["bookkeeping"]["batches_deleted"] == len(old)
    assert not ExportBatch.objects.filter(id__in=old).exists()
    assert ExportBatch.objects.count() == 2  # today's
    assert DeadLetter.objects.get().batch is None  # the dead letter outlives its batch row
    after = export_status()
    assert after.exported_today == before.exported_today == {"clickhouse": 900, "iceberg": 900}
    assert (after.last_batch_at, after.last_batch_records, after.dead_letters) == \
        (before.last_batch_at, before.last_batch_records, 1)
    page = client.get("/health/")
    assert page.status_code == 200 and page.json()["components"]["export"] == "ok"


def test_a_dry_run_counts_what_bookkeeping_would_remove(archive):
    _feed(archive, 100, seed=63)
    Exporter().run()
    ExportBatch.objects.update(acknowledged_at=timezone.now() - timedelta(days=30))

    run = services.retention_run(actor=TESTS, dry_run=True, steps=("bookkeeping",))

    assert run.plan["bookkeeping"]["batches"] == 1
    assert ExportBatch.objects.count() == 1
