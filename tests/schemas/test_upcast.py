"""Upcast on ingest: the fast and row paths agree on mixed-version batches, and a new version is noticed."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from apps.exports.pipeline.policy import PayloadPolicy, UniformPolicies
from apps.exports.pipeline.transform import _fast_columns, _row_path, transform
from apps.records.contract import ContractError, parse_entry
from apps.records.schema import arrow_schema, live_schema
from apps.schemas import registry
from apps.schemas.models import SchemaVersion
from apps.schemas.spec import parse_spec
from apps.stream.demo import generate
from tests.schemas.conftest import NEXT, SHIPPED

NEXT_TEXT = str(NEXT).encode()


def _record_next(next_spec: dict) -> None:
    """What `schema_apply` writes to the registry, without the warehouse (another process applied it)."""
    spec = parse_spec(next_spec, current=registry.current())
    SchemaVersion.objects.create(number=NEXT, fields=[f.as_dict() for f in spec.fields], doc=spec.doc)


def _flat(fields: dict[bytes, bytes]) -> list[bytes]:
    return [part for item in fields.items() for part in item]


def _by_stream_id(table: pa.Table) -> pa.Table:
    return table.take(pc.sort_indices(table, sort_keys=[("stream_id", "ascending")]))


def test_fast_and_row_paths_agree_on_mixed_versions(db, next_spec):
    _record_next(next_spec)
    registry.refresh_live_schema(force=True)
    entries = []
    for i, fields in enumerate(generate(300, seed=3)):
        if i % 3 == 1:
            fields.update({b"schema_version": NEXT_TEXT, b"region": b"eu-west-1", b"billed_units": str(i).encode()})
            fields.pop(b"worker_version")
        elif i % 3 == 2:
            fields[b"region"] = b"ignored-for-v1"  # a v1 entry: the field is not part of its version
        entries.append((f"1764000000000-{i}", _flat(fields)))
    entries[4][1][entries[4][1].index(b"billed_units") + 1] = b"99999999999999999999"  # out of range: row path
    policies = UniformPolicies(PayloadPolicy.from_settings())

    cols, flagged = _fast_columns(entries, policies, live_schema())
    assert pc.sum(flagged).as_py() == 1  # only the odd one: plain rows of the new version stay on the fast path
    fast = transform(entries, policies)
    slow, dead, _ = _row_path(entries, policies, arrow_schema())

    assert [reason for _, reason, _ in dead] == ["billed_units: 99999999999999999999 is out of range "
                                                 "-9223372036854775808..9223372036854775807"]
    assert fast.dead == dead and fast.records == 299
    table = _by_stream_id(fast.table)
    assert table.equals(_by_stream_id(slow))
    rows = {r["stream_id"]: r for r in table.to_pylist()}
    assert rows["1764000000000-1"]["region"] == "eu-west-1" and rows["1764000000000-1"]["billed_units"] == 1
    assert rows["1764000000000-2"]["region"] == "unknown" and rows["1764000000000-2"]["billed_units"] is None
    assert rows["1764000000000-0"]["schema_version"] == 1 and rows["1764000000000-1"]["schema_version"] == NEXT


def test_a_version_applied_elsewhere_is_noticed(db, next_spec):
    registry.refresh_live_schema()
    assert live_schema().version == SHIPPED
    _record_next(next_spec)

    assert registry.refresh_live_schema().version == SHIPPED  # checked a moment ago: no query yet
    new_entry = {b"job_id": b"j", b"queue": b"q", b"outcome": b"success", b"enqueue_time": b"1764000000000",
                 b"schema_version": NEXT_TEXT, b"region": b"ap-south-1"}
    record, _ = parse_entry("1-0", new_entry)  # an unknown version makes it ask the registry at once
    assert record["region"] == "ap-south-1" and record["schema_version"] == NEXT
    assert live_schema().version == NEXT
    assert [c.name for c in live_schema().added] == ["subject_keys", "region", "billed_units"]

    with pytest.raises(ContractError, match=rf"schema_version: {NEXT + 1} is not supported \(supported: 1-{NEXT}\)"):
        parse_entry("1-1", {**new_entry, b"schema_version": str(NEXT + 1).encode()})


EVERY_KIND = [
    {"name": "note", "kind": "string", "default": "n/a"},
    {"name": "zone", "kind": "lowcard", "nullable": True},
    {"name": "cpu_ms", "kind": "int", "default": -1},
    {"name": "bytes_out", "kind": "long", "default": 0},
    {"name": "deadline", "kind": "time", "default": 1_764_000_000_000},
    {"name": "labels", "kind": "tags", "default": {}},
    {"name": "owner_keys", "kind": "keys", "default": []},
]
# Keys are the archive's to compute: what an entry sends under their name is ignored, like a field it does not know.
SENT = {b"note": b"hello", b"zone": b"z1", b"cpu_ms": b"-42", b"bytes_out": b"5000000000",
        b"deadline": b"1764000009000", b"labels": b'{"a":"b"}', b"owner_keys": b'["0123456789abcdef"]'}


def _every_kind_spec() -> dict:
    return {"version": NEXT, "fields": [{"name": f.name} for f in registry.current().fields] + EVERY_KIND}


def test_every_kind_is_upcast_alike_on_both_paths(db):
    spec = parse_spec(_every_kind_spec(), current=registry.current())
    SchemaVersion.objects.create(number=NEXT, fields=[f.as_dict() for f in spec.fields])
    registry.refresh_live_schema(force=True)
    base = {b"job_id": b"j", b"queue": b"q", b"outcome": b"success", b"enqueue_time": b"1764000000000"}
    entries = [("1-0", _flat(base)), ("1-1", _flat({**base, b"schema_version": NEXT_TEXT, **SENT})),
               ("1-2", _flat({**base, b"schema_version": b"1", **SENT})),
               ("1-3", _flat({**base, b"schema_version": NEXT_TEXT}))]
    policies = UniformPolicies(PayloadPolicy.from_settings())

    _, flagged = _fast_columns(entries, policies, live_schema())
    fast = transform(entries, policies)
    slow, dead, _ = _row_path(entries, policies, arrow_schema())

    assert not pc.any(flagged).as_py() and dead == []
    table = _by_stream_id(fast.table)
    assert table.equals(_by_stream_id(slow))
    names = [f["name"] for f in EVERY_KIND]
    rows = [{k: r[k] for k in names} for r in table.to_pylist()]
    defaults = {"note": "n/a", "zone": None, "cpu_ms": -1, "bytes_out": 0,
                "deadline": rows[0]["deadline"], "labels": [], "owner_keys": []}
    assert rows[0] == rows[2] == rows[3] == defaults
    assert rows[0]["deadline"].timestamp() == 1_764_000_000
    assert rows[1] == {"note": "hello", "zone": "z1", "cpu_ms": -42, "bytes_out": 5_000_000_000,
                       "deadline": rows[1]["deadline"], "labels": [("a", "b")], "owner_keys": []}
    assert rows[1]["deadline"].timestamp() == 1_764_000_009


def test_every_kind_evolves_both_tiers(archive):
    from apps.exports.exporter import Exporter
    from apps.schemas.services import schema_apply
    from tests.actors import TESTS
    from apps.warehouse import client as ch

    base = {b"job_id": b"old", b"queue": b"q", b"outcome": b"success", b"enqueue_time": b"1764000000000"}
    archive.redis.xadd(archive.stream, base)
    Exporter().run()
    schema_apply(spec=_every_kind_spec(), actor=TESTS, via="test")
    archive.redis.xadd(archive.stream, {**base, b"job_id": b"new", b"schema_version": NEXT_TEXT, **SENT})
    assert Exporter().run().records == 1

    warm = ch.query("SELECT job_id, note, zone, cpu_ms, bytes_out, toUnixTimestamp(deadline), labels, owner_keys "
                    "FROM {db}.jobs_archive ORDER BY job_id", tag="test").result_rows
    assert warm == [("new", "hello", "z1", -42, 5_000_000_000, 1_764_000_009, {"a": "b"}, []),
                    ("old", "n/a", None, -1, 0, 1_764_000_000, {}, [])]
    cold = {r["job_id"]: r for r in archive.iceberg_rows().to_pylist()}
    assert cold["old"]["note"] == "n/a" and cold["old"]["cpu_ms"] == -1 and cold["old"]["zone"] is None
    assert cold["old"]["deadline"].timestamp() == 1_764_000_000 and not cold["old"]["labels"]
    assert cold["new"]["bytes_out"] == 5_000_000_000 and cold["new"]["labels"] == [("a", "b")]
    assert not cold["old"]["owner_keys"] and cold["new"]["owner_keys"] == []
    described = dict(ch.query("SELECT name, type FROM system.columns WHERE database = {d:String} "
                              "AND table = 'jobs_all'", tag="test", parameters={"d": archive.database}).result_rows)
    assert described["owner_keys"] == described["subject_keys"] == "Array(String)"
    # ClickHouse reads the optional Iceberg list as Array(Nullable(String)); a file written before the
    # field reads [] there (pyiceberg: None); jobs_all gives Array(String) either way.
    cold_keys = ch.query("SELECT job_id, owner_keys, toTypeName(owner_keys) FROM {db}.jobs_cold ORDER BY job_id",
                         tag="test").result_rows
    assert cold_keys == [("new", [], "Array(Nullable(String))"), ("old", [], "Array(Nullable(String))")]
    assert ch.query("SELECT job_id, owner_keys FROM {db}.jobs_all ORDER BY job_id", tag="test").result_rows == [
        ("new", []), ("old", [])]
