"""The batch transform's fast (columnar) path and the contract's row path agree on every record."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from apps.exports.pipeline.policy import PayloadPolicy, UniformPolicies
from apps.exports.pipeline.transform import _row_path, transform
from apps.records.schema import arrow_schema
from apps.stream.demo import generate


def _flat(fields: dict[bytes, bytes]) -> list[bytes]:
    return [part for item in fields.items() for part in item]


def _sorted(table: pa.Table) -> pa.Table:
    return table.take(pc.sort_indices(table, sort_keys=[("stream_id", "ascending")]))


def test_fast_and_row_paths_produce_identical_records(settings):
    settings.ARCHIVE_PAYLOAD_SAMPLE_RATE = 0.3
    entries = [(f"1764000000000-{i}", _flat(f)) for i, f in enumerate(generate(500, seed=9))]
    # Some entries only the row path accepts: RFC 3339 times, a negative priority, repeated fields.
    entries[3][1][entries[3][1].index(b"enqueue_time") + 1] = b"2026-11-24T10:00:00.5+01:00"
    entries[7][1][entries[7][1].index(b"priority") + 1] = b"-3"
    entries[11] = (entries[11][0], [*entries[11][1], b"queue", b"reports"])
    policy = UniformPolicies(PayloadPolicy.from_settings())

    fast = transform(entries, policy)
    records, dead = _row_path(entries, policy)

    assert dead == [] and fast.dead == []
    assert _sorted(fast.table).equals(_sorted(pa.Table.from_pylist(records, schema=arrow_schema())))
    rows = {r["stream_id"]: r for r in fast.table.to_pylist()}
    assert rows["1764000000000-7"]["priority"] == -3
    assert rows["1764000000000-11"]["queue"] == "reports"  # the last value of a repeated field counts
    assert sum(1 for r in rows.values() if r["payload_sample"]) > 100  # sampled, not all, not none
