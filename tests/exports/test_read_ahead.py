"""Reading ahead: while a full batch is transformed and written, the next one is already read and
recorded; a run that stops or fails leaves nothing delivered and unrecorded behind."""

from __future__ import annotations

from apps.exports.exporter import Exporter
from apps.exports.models import BatchState, ExportBatch
from apps.stream.demo import generate


def _feed(archive, count: int) -> None:
    pipe = archive.redis.pipeline()
    for fields in generate(count, seed=11):
        pipe.xadd(archive.stream, fields)
    pipe.execute()


def _pending(archive) -> int:
    return archive.redis.xpending(archive.stream, "archive-exporter")["pending"]


def test_the_next_batch_is_recorded_before_this_one_is_written(archive):
    _feed(archive, 1000)
    recorded_while_writing = []

    def seen(batch, summary):
        recorded_while_writing.append(ExportBatch.objects.filter(state=BatchState.RECORDED).count())

    summary = Exporter(batch_size=300).run(on_batch=seen)

    assert summary.records == 1000 and summary.batches == 4
    # Batches 1-3 came back full, so the following one was read and recorded meanwhile; the
    # last (100 entries) was not full, so nothing was read after it.
    assert recorded_while_writing == [1, 1, 1, 0]
    assert archive.clickhouse_count() == 1000 and archive.iceberg_rows().num_rows == 1000
    assert _pending(archive) == 0


def test_a_stop_finishes_the_batch_read_ahead(archive):
    _feed(archive, 1000)
    stop = {"now": False}

    def stop_after_first(batch, summary):
        stop["now"] = True

    summary = Exporter(batch_size=300).run(follow=True, should_stop=lambda: stop["now"], on_batch=stop_after_first)

    # The first batch, and the second, which had been read ahead when the stop came.
    assert summary.records == 600
    assert ExportBatch.objects.exclude(state=BatchState.ACKNOWLEDGED).count() == 0
    assert _pending(archive) == 0
    assert archive.clickhouse_count() == 600


def test_a_failure_leaves_the_batch_read_ahead_recoverable_at_once(archive, settings):
    _feed(archive, 1000)
    settings.ARCHIVE_SINK_CLICKHOUSE = False  # the cold tier alone is enough to show the hand-over

    def fail_first_write(batch, summary):
        raise RuntimeError("writer lost")

    first = Exporter(batch_size=300).run(on_batch=fail_first_write)
    assert first.errors == ["RuntimeError: writer lost"] and first.records == 300
    # The batch read ahead is recorded and unlocked: another exporter takes it at once, without
    # waiting for entries to go idle.
    assert ExportBatch.objects.filter(state=BatchState.RECORDED).count() == 1

    second = Exporter(batch_size=300, claim_idle_ms=3_600_000).run()
    assert second.recovered_batches == 1
    assert first.records + second.records == 1000
    assert archive.iceberg_rows().num_rows == 1000
    assert _pending(archive) == 0
