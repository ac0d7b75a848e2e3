"""Physical removal leaves no inactive part in the partitions it touched, whichever part held the
rows: verification refuses any (apps/erasure/verification.py, `_leftover_parts`)."""

from __future__ import annotations

import json

from apps.warehouse import client as ch
from apps.warehouse.physical import remove_rows
from tests.retention.helpers import T0, export

DAY = "2026-02-28"


def _entry(job_id: str, ms: int) -> dict:
    return {b"job_id": job_id.encode(), b"queue": b"emails", b"outcome": b"success",
            b"enqueue_time": str(ms).encode(), b"payload": json.dumps({"n": job_id}).encode()}


def _parts() -> list[tuple[str, int]]:
    return ch.query("SELECT name, active FROM system.parts WHERE database = {d:String} AND table = 'jobs_archive'",
                    tag="test", parameters={"d": ch.database()}).result_rows


def test_a_part_emptied_by_the_removal_is_gone_when_it_returns(archive):
    ms = int(T0.timestamp() * 1000) - 3000
    for i in range(5):
        archive.redis.xadd(archive.stream, _entry(f"other-{i}", ms - i))
    export()
    archive.redis.xadd(archive.stream, _entry("42", ms))  # a part of its own, in the same partition
    export()
    (stream_id, part), = ch.query("SELECT stream_id, _part FROM {db}.jobs_archive WHERE job_id = '42'",
                                  tag="test").result_rows
    # Usually a part of its own (then emptied by the removal); merged with the others, if a merge was quick.
    assert part in {name for name, _ in _parts()}

    removed = remove_rows("jobs_archive", [stream_id], [DAY])
    assert removed.records == 1
    assert [name for name, active in _parts() if not active] == []  # the emptied part too, not a second later
    assert ch.query("SELECT count() FROM {db}.jobs_archive", tag="test",
                    settings_={"apply_deleted_mask": 0}).result_rows[0][0] == 5
