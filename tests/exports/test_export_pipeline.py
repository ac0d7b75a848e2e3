"""The exporter lands every valid entry once in both sinks and dead-letters the rest, with reasons."""

from __future__ import annotations

import json

from apps.exports.exporter import Exporter
from apps.exports.models import BatchState, DeadLetter, ExportBatch
from apps.stream.demo import generate

MALFORMED = [
    ({b"queue": b"emails", b"outcome": b"success", b"enqueue_time": b"1764000000000"}, "job_id: required"),
    ({b"job_id": b"j-1", b"queue": b"emails", b"outcome": b"exploded", b"enqueue_time": b"1764000000000"}, "outcome:"),
    ({b"job_id": b"j-2", b"queue": b"emails", b"outcome": b"success", b"enqueue_time": b"yesterday"}, "enqueue_time:"),
    ({b"job_id": b"j-3", b"queue": b"emails", b"outcome": b"success", b"enqueue_time": b"1764000000"}, "outside 2000-2100"),
    ({b"job_id": b"j-4", b"queue": b"emails", b"outcome": b"success", b"enqueue_time": b"1764000000000",
      b"tags": b"[1,2]"}, "tags:"),
    ({b"job_id": b"j-5", b"queue": b"emails", b"outcome": b"success", b"enqueue_time": b"1764000000000",
      b"retries": b"-1"}, "retries:"),
    ({b"job_id": b"j-6", b"queue": b"emails", b"outcome": b"success", b"enqueue_time": b"1764000000000",
      b"schema_version": b"9"}, "schema_version:"),
    ({b"job_id": b"j-7", b"queue": b"\xff\xfe", b"outcome": b"success", b"enqueue_time": b"1764000000000"}, "UTF-8"),
]


def _feed(archive, valid: int):
    pipe = archive.redis.pipeline()
    good = generate(valid, seed=7)
    # Interleave bad entries between good ones: they must not block what follows.
    bad_ids_at = {i * (valid // len(MALFORMED)) for i in range(len(MALFORMED))}
    bad = iter(MALFORMED)
    for i, fields in enumerate(good):
        if i in bad_ids_at:
            pipe.xadd(archive.stream, next(bad)[0])
        pipe.xadd(archive.stream, fields)
    pipe.execute()
    return good


def _job_ids(entries):
    return sorted(e[b"job_id"].decode() for e in entries)


def test_every_valid_record_once_in_both_sinks_and_bad_ones_dead_lettered(archive):
    good = _feed(archive, 2400)

    summary = Exporter(batch_size=500).run()

    assert summary.records == 2400
    assert summary.dead_letters == len(MALFORMED)
    assert archive.clickhouse_count() == 2400
    from apps.warehouse import client as ch

    ids = sorted(r[0] for r in ch.query("SELECT job_id FROM {db}.jobs_archive", tag="test").result_rows)
    assert ids == _job_ids(good)
    cold = archive.iceberg_rows()
    assert sorted(cold.column("job_id").to_pylist()) == _job_ids(good)

    dead = archive.redis.xrange(f"{archive.stream}:dead")
    assert len(dead) == len(MALFORMED)
    reasons = [fields[b"reason"].decode() for _, fields in dead]
    for (_, expected), reason in zip(MALFORMED, reasons):
        assert expected in reason
    # The original fields travel with the reason.
    assert dead[1][1][b"outcome"] == b"exploded"
    assert DeadLetter.objects.count() == len(MALFORMED)

    info = archive.redis.xpending(archive.stream, "archive-exporter")
    assert info["pending"] == 0
    assert ExportBatch.objects.exclude(state=BatchState.ACKNOWLEDGED).count() == 0

    # Running the export again changes nothing.
    again = Exporter(batch_size=500).run()
    assert again.records == 0 and again.dead_letters == 0
    assert archive.clickhouse_count() == 2400
    assert archive.iceberg_rows().num_rows == 2400
    assert len(archive.redis.xrange(f"{archive.stream}:dead")) == len(MALFORMED)


def test_payload_hash_size_and_redacted_samples(archive, settings):
    settings.ARCHIVE_PAYLOAD_SAMPLE_RATE = 0.0
    payload = json.dumps({"to": "grace.hopper@example.com", "card": "4111 1111 1111 1111", "n": 1})
    base = {b"queue": b"emails", b"enqueue_time": b"1764000000000", b"payload": payload.encode()}
    archive.redis.xadd(archive.stream, {**base, b"job_id": b"ok-1", b"outcome": b"success"})
    archive.redis.xadd(archive.stream, {**base, b"job_id": b"bad-1", b"outcome": b"failed",
                                        b"error_type": b"SMTPError",
                                        b"error_msg": b"550 rejected <grace.hopper@example.com> from 10.1.2.3"})
    Exporter().run()

    rows = {r["job_id"]: r for r in archive.iceberg_rows().to_pylist()}
    assert rows["ok-1"]["payload_size"] == len(payload.encode())
    assert len(rows["ok-1"]["payload_hash"]) == 32
    assert rows["ok-1"]["payload_hash"] == rows["bad-1"]["payload_hash"]
    assert rows["ok-1"]["payload_sample"] == ""  # not sampled at rate 0
    sample = rows["bad-1"]["payload_sample"]  # failures are always sampled
    assert "grace.hopper" not in sample and "4111" not in sample
    assert "[REDACTED:email]" in sample and '"n": 1' in sample
    assert rows["bad-1"]["error_msg"] == "550 rejected <[REDACTED:email]> from [REDACTED:ipv4]"

    from apps.warehouse import client as ch

    warm = ch.query("SELECT error_msg FROM {db}.jobs_archive WHERE job_id = 'bad-1'", tag="test").result_rows
    assert warm == [("550 rejected <[REDACTED:email]> from [REDACTED:ipv4]",)]


def test_either_sink_can_be_disabled(archive, settings):
    from apps.warehouse import client as ch

    def warm_ids():
        return [r[0] for r in ch.query("SELECT job_id FROM {db}.jobs_archive", tag="test").result_rows]

    settings.ARCHIVE_SINK_ICEBERG = False
    warm_only = generate(1, seed=1)[0]
    archive.redis.xadd(archive.stream, warm_only)
    Exporter().run()
    assert warm_ids() == [warm_only[b"job_id"].decode()]
    assert archive.iceberg_rows().num_rows == 0

    settings.ARCHIVE_SINK_ICEBERG = True
    settings.ARCHIVE_SINK_CLICKHOUSE = False
    cold_only = generate(1, seed=2)[0]
    archive.redis.xadd(archive.stream, cold_only)
    Exporter().run()
    assert warm_ids() == [warm_only[b"job_id"].decode()]
    cold = archive.iceberg_rows().to_pylist()
    assert [(r["job_id"], r["queue"]) for r in cold] == [(cold_only[b"job_id"].decode(), cold_only[b"queue"].decode())]


def test_a_drain_ends_at_the_entries_present_when_it_started(archive):
    """A producer keeps appending while a drain runs: the drain still ends, having read up to the
    entry that was last when it started (and at most one batch beyond it), not until the producer rests."""
    import threading
    import time

    pipe = archive.redis.pipeline()
    for fields in generate(300, seed=5):
        pipe.xadd(archive.stream, fields)
    pipe.execute()
    drained = threading.Event()
    more = iter(generate(5000, seed=6))

    def produce():
        deadline = time.monotonic() + 60
        while not drained.is_set() and time.monotonic() < deadline:
            archive.redis.xadd(archive.stream, next(more))
            time.sleep(0.005)

    producer = threading.Thread(target=produce)
    producer.start()
    try:
        summary = Exporter(batch_size=50).run()
    finally:
        drained.set()
        producer.join()

    assert 300 <= summary.records <= 350, summary.records
    assert archive.redis.xlen(archive.stream) > summary.records  # the producer was still going
    assert archive.clickhouse_count() == summary.records
