"""Exactly-once by record: whatever re-delivers an entry, each (job_id, retries) is archived once, and
the duplicates are acknowledged and counted."""

from __future__ import annotations

from apps.exports.exporter import Exporter
from apps.exports.models import DeadLetter, ExportBatch
from apps.exports.selectors import export_status
from apps.stream.demo import generate
from apps.warehouse import client as ch

GROUP = "archive-exporter"


def _add(archive, entries) -> None:
    pipe = archive.redis.pipeline()
    for fields in entries:
        pipe.xadd(archive.stream, fields)
    pipe.execute()


def _tiers(archive) -> dict[str, tuple[int, int]]:
    """(rows, distinct records) in each tier."""
    warm = ch.query("SELECT count(), uniqExact(job_id, retries) FROM {db}.jobs_archive", tag="test").result_rows[0]
    cold = archive.iceberg_rows()
    keys = set(zip(cold.column("job_id").to_pylist(), cold.column("retries").to_pylist()))
    return {"warm": (int(warm[0]), int(warm[1])), "cold": (cold.num_rows, len(keys))}


def _pending(archive) -> int:
    return archive.redis.xpending(archive.stream, GROUP)["pending"]


def test_a_producer_sending_the_same_completion_twice(archive):
    """A producer retries its XADD after a timeout: same record, new entry id. Some repeats land in
    the same batch as the original, some in later batches."""
    records = generate(900, seed=41)
    _add(archive, records)
    _add(archive, records[:300])  # repeats of the first 300, read in a later batch
    _add(archive, records[850:])  # the last 50 again, right behind their originals

    summary = Exporter(batch_size=500).run()

    assert _tiers(archive) == {"warm": (900, 900), "cold": (900, 900)}
    assert (summary.records, summary.duplicates) == (900, 350)
    assert sum(ExportBatch.objects.values_list("duplicates", flat=True)) == 350
    assert _pending(archive) == 0  # the duplicates were acknowledged too
    status = export_status()
    assert status.duplicates_today == 350 and status.exported_today == {"clickhouse": 900, "iceberg": 900}


def test_a_consumer_group_moved_back_to_zero_and_drained_again(archive):
    _add(archive, generate(1200, seed=42))
    assert Exporter(batch_size=400).run().records == 1200

    archive.redis.xgroup_setid(archive.stream, GROUP, "0")
    again = Exporter(batch_size=400).run()

    assert _tiers(archive) == {"warm": (1200, 1200), "cold": (1200, 1200)}
    assert (again.records, again.duplicates) == (0, 1200)
    assert _pending(archive) == 0 and archive.redis.xinfo_groups(archive.stream)[0]["lag"] == 0
    from apps.exports.models import ExportDay

    assert ExportDay.objects.get().duplicates == 1200


def test_acknowledgements_lost_entries_redelivered_after_their_batch_was_acknowledged(archive):
    """Redis loses the acknowledgements (a failover to a replica that had not seen them, the last
    second of an AOF): the stream comes back as it was before the export, entries pending again."""
    _add(archive, generate(700, seed=43))
    # Entries delivered to a consumer that then died; the snapshot still has them pending.
    archive.redis.xgroup_create(archive.stream, GROUP, id="0")
    archive.redis.xreadgroup(GROUP, "lost-consumer", {archive.stream: ">"}, count=1000)
    snapshot = archive.redis.dump(archive.stream)

    first = Exporter(batch_size=300, claim_idle_ms=0).run()
    assert first.records == 700 and _pending(archive) == 0
    archive.redis.restore(archive.stream, 0, snapshot, replace=True)  # the acknowledgements are lost
    assert _pending(archive) == 700

    again = Exporter(batch_size=300, claim_idle_ms=0).run()

    assert _tiers(archive) == {"warm": (700, 700), "cold": (700, 700)}
    assert (again.records, again.duplicates) == (0, 700)
    assert _pending(archive) == 0


def test_a_redelivered_dead_letter_is_not_dead_lettered_twice(archive):
    archive.redis.xadd(archive.stream, {b"job_id": b"bad-1", b"queue": b"q", b"outcome": b"exploded",
                                        b"enqueue_time": b"1764000000000"})
    _add(archive, generate(10, seed=44))
    assert Exporter().run().dead_letters == 1

    archive.redis.xgroup_setid(archive.stream, GROUP, "0")
    again = Exporter().run()

    assert archive.redis.xlen(f"{archive.stream}:dead") == 1 and DeadLetter.objects.count() == 1
    assert (again.dead_letters, again.duplicates) == (0, 11)


def test_a_fixed_dead_letter_is_archived_although_its_key_was_claimed_once(archive):
    """Keys are claimed from the raw fields before the contract is checked; an entry the contract
    refuses gives its key back, so its corrected re-send is a record like any other."""
    broken = {b"job_id": b"j-77", b"queue": b"emails", b"outcome": b"sucess", b"enqueue_time": b"1764000000000"}
    archive.redis.xadd(archive.stream, broken)
    assert Exporter().run().dead_letters == 1
    archive.redis.xadd(archive.stream, {**broken, b"outcome": b"success"})

    fixed = Exporter().run()

    assert (fixed.records, fixed.duplicates) == (1, 0)
    assert archive.clickhouse_count("job_id = 'j-77'") == 1


def test_retries_name_distinct_records(archive):
    """Two attempts of one job are two records; a repeat of either is a duplicate."""
    base = {b"job_id": b"job-5", b"queue": b"emails", b"enqueue_time": b"1764000000000"}
    first = {**base, b"outcome": b"retry", b"retries": b"0"}
    second = {**base, b"outcome": b"success", b"retries": b"1"}
    _add(archive, [first, second, second, {**first, b"retries": b""}])  # "" spells attempt 0 too

    summary = Exporter().run()

    rows = ch.query("SELECT retries, outcome FROM {db}.jobs_archive ORDER BY retries", tag="test").result_rows
    assert rows == [(0, "retry"), (1, "success")]
    assert (summary.records, summary.duplicates) == (2, 2)


def test_bytes_that_are_not_text_in_the_key_fields_are_dead_lettered_not_stuck(archive):
    """The keys are read from the raw fields before the contract is checked: odd bytes there must
    leave the entry to the contract (a dead letter), and the batch must go through."""
    _add(archive, generate(20, seed=45))
    _add(archive, [{b"job_id": b"\xff\xfe", b"queue": b"q", b"outcome": b"success", b"enqueue_time": b"1764000000000"},
                   {b"job_id": b"j-1", b"queue": b"q", b"outcome": b"success", b"enqueue_time": b"\xff"},
                   {b"job_id": b"j-2", b"queue": b"q", b"outcome": b"success", b"enqueue_time": b"1764000000000",
                    b"retries": b"\xff"}])

    summary = Exporter().run()

    assert (summary.records, summary.dead_letters, summary.errors) == (20, 3, [])
    assert _pending(archive) == 0
