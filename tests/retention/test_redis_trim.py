"""Redis trimming: exported entries leave after their retention; pending and undelivered entries never do."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from apps.retention.models import RetentionPolicy
from apps.retention.services import retention_run
from apps.stream.demo import generate
from tests.actors import TESTS
from tests.retention.helpers import export

GROUP = "archive-exporter"


def _add(archive, n: int, seed: int) -> list[str]:
    pipe = archive.redis.pipeline()
    for fields in generate(n, seed=seed):
        pipe.xadd(archive.stream, fields)
    return [i.decode() for i in pipe.execute()]


def _present(archive, ids: list[str]) -> int:
    return sum(bool(archive.redis.xrange(archive.stream, min=i, max=i)) for i in ids)


def test_trim_never_drops_an_entry_a_stuck_consumer_holds(archive):
    RetentionPolicy.objects.create(redis_hours=24)
    exported = _add(archive, 300, seed=1)
    export()
    # A consumer of the exporters' group takes entries and never acknowledges them (it is stuck).
    stuck = _add(archive, 120, seed=2)
    archive.redis.xreadgroup(GROUP, "stuck-consumer", {archive.stream: ">"}, count=120)
    assert archive.redis.xpending(archive.stream, GROUP)["pending"] == 120
    # Entries nobody has read yet.
    unread = _add(archive, 40, seed=3)
    # Another group (say, an analytics reader) is further behind still: it has read only 100.
    archive.redis.xgroup_create(archive.stream, "analytics", id="0")
    archive.redis.xreadgroup("analytics", "reader", {archive.stream: ">"}, count=100)
    archive.redis.xack(archive.stream, "analytics", *exported[:100])

    later = datetime.now(timezone.utc) + timedelta(days=2)
    dry = retention_run(actor=TESTS, dry_run=True, as_of=later, steps=("trim",))
    assert dry.plan["trim"]["trimmed_entries"] == 100  # bounded by the analytics group, not by age
    run = retention_run(actor=TESTS, dry_run=False, as_of=later, steps=("trim",))
    assert run.result["trim"]["trimmed_entries"] == 100

    assert _present(archive, exported) == 200
    assert _present(archive, stuck) == 120 and _present(archive, unread) == 40
    assert archive.redis.xpending(archive.stream, GROUP)["pending"] == 120

    # Once the analytics reader catches up, the exported entries go; the stuck ones still stay.
    archive.redis.xreadgroup("analytics", "reader", {archive.stream: ">"}, count=1000)
    archive.redis.xack(archive.stream, "analytics", *exported, *stuck, *unread)
    retention_run(actor=TESTS, dry_run=False, as_of=later, steps=("trim",))
    assert _present(archive, exported) == 0
    assert _present(archive, stuck) == 120 and _present(archive, unread) == 40


def test_shorter_retention_per_queue_removes_only_that_queue(archive):
    RetentionPolicy.objects.create(redis_hours=48)
    RetentionPolicy.objects.create(queue="emails", redis_hours=1)
    ids = _add(archive, 400, seed=4)
    export()
    queue_of = {i: archive.redis.xrange(archive.stream, min=i, max=i)[0][1][b"queue"].decode() for i in ids}

    retention_run(actor=TESTS, dry_run=False, as_of=datetime.now(timezone.utc) + timedelta(hours=2), steps=("trim",))
    left = {i for i in ids if archive.redis.xrange(archive.stream, min=i, max=i)}
    assert {queue_of[i] for i in set(ids) - left} == {"emails"}
    assert all(queue_of[i] != "emails" for i in left)
    assert len(left) == sum(q != "emails" for q in queue_of.values())

    # Within every retention nothing goes.
    retention_run(actor=TESTS, dry_run=False, as_of=datetime.now(timezone.utc) + timedelta(hours=3), steps=("trim",))
    assert all(archive.redis.xrange(archive.stream, min=i, max=i) for i in left)
