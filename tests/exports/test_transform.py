"""The batch transform's fast (columnar) path and the contract's row path agree on every record."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from hashlib import blake2b

from apps.compliance.subject_keys import DEFAULT_RULES
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

    fast = transform(entries, policy, rules=DEFAULT_RULES)  # given: these tests read no database
    slow, dead, _ = _row_path(entries, policy, arrow_schema(), DEFAULT_RULES)

    assert dead == [] and fast.dead == []
    assert _sorted(fast.table).equals(_sorted(slow))
    rows = {r["stream_id"]: r for r in fast.table.to_pylist()}
    assert rows["1764000000000-7"]["priority"] == -3
    assert rows["1764000000000-11"]["queue"] == "reports"  # the last value of a repeated field counts
    assert sum(1 for r in rows.values() if r["payload_sample"]) > 100  # sampled, not all, not none


def test_sampling_follows_the_payload_hash_and_keeps_every_failure(settings):
    """The rule, restated one record at a time: keep a sample when the payload failed or when the
    first 8 bytes of its BLAKE2b-128 digest, read big-endian, fall below rate x 2^64."""
    settings.ARCHIVE_PAYLOAD_SAMPLE_RATE = 0.25
    fields = generate(2000, seed=4)
    entries = [(f"1764000000000-{i}", _flat(f)) for i, f in enumerate(fields)]
    table = transform(entries, UniformPolicies(PayloadPolicy.from_settings()), rules=DEFAULT_RULES).table
    rows = {r["stream_id"]: r for r in table.to_pylist()}

    kept = failures_kept = 0
    for i, f in enumerate(fields):
        row = rows[f"1764000000000-{i}"]
        digest = blake2b(f[b"payload"], digest_size=16).digest()
        assert row["payload_hash"] == digest.hex()
        failed = f[b"outcome"].decode() in ("failed", "timeout", "dead")
        drawn = int.from_bytes(digest[:8], "big") < 0.25 * 2**64
        assert bool(row["payload_sample"]) == (failed or drawn), row["job_id"]
        kept += bool(row["payload_sample"])
        failures_kept += failed
    assert 0 < failures_kept < kept < len(fields)
