"""Reading ahead: while a full batch is transformed and written, the next one is already read and
recorded; a run that stops or fails leaves nothing delivered and unrecorded behind."""

from __future__ import annotations

import socket

from apps.exports.exporter import Exporter
from apps.exports.models import BatchState, ExportBatch, ExportError
from apps.stream.demo import generate


def _feed(archive, count: int) -> list[dict[bytes, bytes]]:
    entries = generate(count, seed=11)
    pipe = archive.redis.pipeline()
    for fields in entries:
        pipe.xadd(archive.stream, fields)
    pipe.execute()
    return entries


def _pending(archive) -> int:
    return archive.redis.xpending(archive.stream, "archive-exporter")["pending"]


def test_the_next_batch_is_recorded_before_this_one_is_written(archive):
    _feed(archive, 1000)
    recorded_while_writing = []

    def seen(batch, summary):
        recorded_while_writing.append(ExportBatch.objects.filter(state=BatchState.RECORDED).count())

    # Claims of idle entries come round every claim_idle_ms / 2 and stop the reading ahead meanwhile:
    # a long interval, so how fast this machine writes a batch does not decide what is read ahead.
    summary = Exporter(batch_size=300, claim_idle_ms=60_000).run(on_batch=seen)

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


def _closed_port() -> int:
    """A loopback port that nothing listens on: a connection to it is refused at once."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_a_failure_leaves_the_batch_read_ahead_recoverable_at_once(archive, settings):
    fed = _feed(archive, 1000)
    settings.ARCHIVE_SINK_CLICKHOUSE = False  # the cold tier alone is enough to show the hand-over
    reachable = settings.S3_ENDPOINT_URL
    # This exporter cannot reach S3, so its first Iceberg append really fails (the catalog is
    # cached per endpoint, so it gets its own); by then the next batch has been read ahead.
    settings.S3_ENDPOINT_URL = f"http://127.0.0.1:{_closed_port()}"

    first = Exporter(batch_size=300).run()
    assert first.records == 0 and first.batches == 0 and len(first.errors) == 1
    # Both the failed batch and the one read ahead are recorded, unwritten, and no longer held.
    batches = ExportBatch.objects.order_by("created_at")
    assert [(b.state, b.entry_count, b.iceberg_at) for b in batches] == [(BatchState.RECORDED, 300, None)] * 2
    assert ExportError.objects.filter(batch=batches[0]).exists()
    assert _pending(archive) == 600

    # Another exporter takes both over at once, without waiting for their entries to go idle.
    settings.S3_ENDPOINT_URL = reachable
    assert archive.iceberg_rows().num_rows == 0
    second = Exporter(batch_size=300, claim_idle_ms=3_600_000).run()
    assert second.errors == [] and second.recovered_batches == 2
    assert second.records == 1000
    cold = archive.iceberg_rows().column("job_id").to_pylist()
    assert sorted(cold) == sorted(fields[b"job_id"].decode() for fields in fed)  # each record exactly once
    assert _pending(archive) == 0
    assert not ExportBatch.objects.exclude(state=BatchState.ACKNOWLEDGED).exists()
