"""The producer API writes contract-v1 entries, and refuses bad ones with a clear message before sending."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from apps.exports.exporter import Exporter
from apps.stream.producer import Completion, record_completion, record_completions


def test_record_completion_round_trips_through_the_exporter(archive):
    entry_id = record_completion(
        connection=archive.redis,
        stream=archive.stream,
        job_id="invoice-42",
        queue="billing",
        outcome="failed",
        enqueue_time=datetime(2026, 11, 24, 9, 30, tzinfo=timezone.utc),
        start_time="2026-11-24T09:30:01.250Z",
        end_time=1_764_000_000_000 + 5_000,
        retries=2,
        error_type="CardDeclined",
        error_msg="card 4111-1111-1111-1111 declined",
        payload={"invoice": 42},
        tags={"region": "eu"},
    )
    assert "-" in entry_id
    Exporter().run()
    row = archive.iceberg_rows().to_pylist()[0]
    assert row["job_id"] == "invoice-42" and row["retries"] == 2
    assert row["enqueue_time"] == datetime(2026, 11, 24, 9, 30, tzinfo=timezone.utc)
    assert row["start_time"] == datetime(2026, 11, 24, 9, 30, 1, 250000, tzinfo=timezone.utc)
    assert row["error_msg"] == "card [REDACTED:card] declined"
    assert row["tags"] == [("region", "eu")]
    assert row["payload_sample"] == '{"invoice":42}'  # failures keep a sample


def test_batch_variant_checks_everything_before_sending(archive):
    good = Completion(job_id="a", queue="q", outcome="success", enqueue_time=1_764_000_000_000)
    bad = Completion(job_id="b", queue="q", outcome="finished", enqueue_time=1_764_000_000_000)
    with pytest.raises(ValueError, match="job 'b': outcome: 'finished' is not one of"):
        record_completions([good, bad], connection=archive.redis, stream=archive.stream)
    assert archive.redis.xlen(archive.stream) == 0  # nothing half-sent

    ids = record_completions([good, {"job_id": "c", "queue": "q", "outcome": "dead", "enqueue_time": "2026-11-24T00:00:00+01:00"}],
                             connection=archive.redis, stream=archive.stream)
    assert len(ids) == 2 and archive.redis.xlen(archive.stream) == 2


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"job_id": ""}, "job_id: required"),
        ({"queue": "x" * 129}, "queue: required, 1-128"),
        ({"enqueue_time": "2026-11-24 10:00"}, "needs a UTC offset"),
        ({"enqueue_time": 1_764_000_000}, "outside 2000-2100"),
        ({"priority": 2**40}, "priority:"),
    ],
)
def test_clear_errors_for_bad_records(redis_conn, fields, message):
    base = {"job_id": "j", "queue": "q", "outcome": "success", "enqueue_time": 1_764_000_000_000}
    with pytest.raises(ValueError, match=message):
        record_completion(connection=redis_conn, stream="test:never-written", **{**base, **fields})
    assert redis_conn.exists("test:never-written") == 0
