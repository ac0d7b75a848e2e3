"""Subject keys at ingest: read from the full payload and the tags, kept as keyed hashes in both tiers
and in the subject index; never taken from the producer; a replayed batch indexes nothing twice."""

from __future__ import annotations

import json
import re
import signal
from datetime import date, timedelta

import pyarrow as pa
import pytest
from django.utils import timezone

from apps.compliance import subject_index
from apps.compliance.models import SubjectKeyRule
from apps.compliance.subject_keys import DEFAULT_RULES, Rule, extract, key_hash
from apps.exports.exporter import Exporter
from apps.exports.pipeline import sinks
from apps.exports.pipeline.policy import PayloadPolicy, UniformPolicies
from apps.exports.pipeline.subjects import subject_keys_column
from apps.exports.pipeline.transform import transform
from apps.retention.models import RetentionPolicy
from apps.retention.services import retention_run
from apps.warehouse import client as ch
from tests.actors import TESTS

DAY1 = 1_764_000_000_000  # 2025-11-24 16:00 UTC
DAY2 = DAY1 + 86_400_000
ANN = key_hash("email", "ann.lee@example.org", kind="email")
BOB = key_hash("email", "bob@example.org", kind="email")
U7 = key_hash("user_id", "u-7")
U42 = key_hash("user_id", "42")
C9 = key_hash("customer_id", "c-9")
FORGED = "0123456789abcdef0123456789abcdef"


@pytest.fixture
def default_rules(archive):
    """The migration's default rules (a flushed test database has none)."""
    for rule in DEFAULT_RULES:
        SubjectKeyRule.objects.get_or_create(source=rule.source, field=rule.field,
                                             defaults={"name": rule.name, "kind": rule.kind})


def _entry(job_id: str, at: int | str, payload: str | None = None, tags: dict | None = None,
           **extra: str) -> dict[bytes, bytes]:
    fields = {"job_id": job_id, "queue": "billing", "outcome": "success", "enqueue_time": str(at), **extra}
    if payload is not None:
        fields["payload"] = payload
    if tags is not None:
        fields["tags"] = json.dumps(tags)
    return {k.encode(): v.encode() for k, v in fields.items()}


# job id -> (entry, the keys it must get)
CASES = {
    "odd-spelling": (_entry("odd-spelling", DAY1, json.dumps({"email": "  Ann.Lee@EXAMPLE.org ", "n": 1}),
                            {"user_id": "u-7", "region": "eu"}), [ANN, U7]),
    "nested-only": (_entry("nested-only", DAY1, json.dumps({"customer": {"email": "ann.lee@example.org"}})), []),
    "not-json": (_entry("not-json", DAY1, 'email="ann.lee@example.org"', {"user_id": "u-7"}), [U7]),
    "forged": (_entry("forged", DAY1, json.dumps({"user_id": 42}), schema_version="2",
                      subject_keys=json.dumps([FORGED])), [U42]),
    "forged-v1": (_entry("forged-v1", DAY1, None, subject_keys=FORGED), []),
    "escaped-key": (_entry("escaped-key", DAY1, '{"\\u0065mail": "Bob@Example.org"}'), [BOB]),
    "empty-values": (_entry("empty-values", DAY1, json.dumps({"email": " ", "user_id": True, "customer_id": None})),
                     []),
    "no-payload": (_entry("no-payload", DAY1), []),
    # Only the row path accepts an RFC 3339 time: it computes the keys the same way.
    "row-path": (_entry("row-path", "2025-11-24T17:00:00+00:00", json.dumps({"customer_id": " c-9 "}),
                        {"user_id": "42"}), [C9, U42]),
    "second-day": (_entry("second-day", DAY2, json.dumps({"email": "ann.lee@example.org"})), [ANN]),
}


def _keys_by_job(rows) -> dict[str, list]:
    return {job_id: list(keys) for job_id, keys in rows}


def test_both_tiers_and_the_index_hold_the_same_keys(archive, default_rules):
    pipe = archive.redis.pipeline()
    for entry, _ in CASES.values():
        pipe.xadd(archive.stream, entry)
    pipe.execute()
    summary = Exporter().run()
    assert (summary.records, summary.dead_letters) == (len(CASES), 0)
    expected = {job_id: sorted(keys) for job_id, (_, keys) in CASES.items()}

    warm = ch.query("SELECT job_id, subject_keys FROM {db}.jobs_archive", tag="test").result_rows
    assert _keys_by_job(warm) == expected
    cold = archive.iceberg_rows()
    assert dict(zip(cold.column("job_id").to_pylist(), cold.column("subject_keys").to_pylist())) == expected
    through_clickhouse = ch.query("SELECT job_id, subject_keys FROM {db}.jobs_cold", tag="test").result_rows
    assert _keys_by_job(through_clickhouse) == expected

    def everything() -> dict:
        rows = ch.query("SELECT job_id, subject_keys, toTypeName(subject_keys) FROM {db}.jobs_all",
                        tag="test").result_rows
        assert {t for _, _, t in rows} == {"Array(String)"}
        return _keys_by_job((j, k) for j, k, _ in rows)

    assert everything() == expected
    # Only hashes were stored: no identifier, in any spelling, is in a key.
    stored = [key for keys in expected.values() for key in keys]
    assert all(re.fullmatch(r"[0-9a-f]{32}", key) for key in stored)
    assert FORGED not in stored and not any("ann" in key.lower() or "@" in key for key in stored)

    indexed = ch.query("SELECT key_hash, day FROM {db}.subject_index FINAL ORDER BY key_hash, day",
                       tag="test").result_rows
    day1, day2 = date(2025, 11, 24), date(2025, 11, 25)
    assert sorted(indexed) == sorted({(ANN, day1), (ANN, day2), (U7, day1), (U42, day1), (BOB, day1), (C9, day1)})
    assert subject_index.days_of([ANN]) == [day1, day2]
    assert subject_index.days_of([U42, BOB]) == [day1]
    assert subject_index.days_of([FORGED]) == [] and subject_index.days_of([]) == []
    assert subject_index.count([ANN, U7]) == 3

    # Tiering moves every record to the cold tier: jobs_all reads the same keys from there, the index is as it was.
    RetentionPolicy.objects.create(warm_days=1)
    retention_run(actor=TESTS, dry_run=False, as_of=timezone.now() + timedelta(days=10), steps=("tiering",))
    assert archive.clickhouse_count() == 0
    assert everything() == expected
    assert subject_index.days_of([ANN]) == [day1, day2]

    assert subject_index.remove([ANN]) == 2
    assert subject_index.days_of([ANN]) == [] and subject_index.count([U7]) == 1


def test_a_replayed_batch_indexes_nothing_twice(archive, default_rules):
    # 30 records over two days, seven people: 7 (key, day) pairs on each day.
    entries = [(f"{DAY1 + i}-0", [part for item in _entry(f"j{i}", DAY1 + i * 3_600_000, json.dumps(
        {"email": f"user{i % 7}@example.org"})).items() for part in item]) for i in range(30)]
    batch = transform(entries, UniformPolicies(PayloadPolicy.from_settings())).table
    rows = subject_index.rows_for(batch)
    assert rows.num_rows == 14 and rows.equals(subject_index.rows_for(batch.take(list(range(29, -1, -1)))))
    ch.command("SYSTEM STOP MERGES {db}.subject_index", tag="test")  # so a duplicate would stay visible
    physical = "SELECT count() FROM {db}.subject_index"

    sinks.write_clickhouse(batch, "replayed-batch")
    sinks.write_clickhouse(batch, "replayed-batch")  # the replay after a crash: same batch, same id
    assert ch.query(physical, tag="test").result_rows == [(14,)]
    assert archive.clickhouse_count() == 30
    # The control: under other tokens (other batches) the same rows do land again; merges are stopped,
    # so nothing would hide a duplicate.
    subject_index.add(batch, "another-batch:subjects")
    subject_index.add(batch, "a-third-batch:subjects")
    assert ch.query(physical, tag="test").result_rows == [(14 * 3,)]
    assert subject_index.count([key_hash("email", "user0@example.org", kind="email")]) == 2


def test_a_crash_between_the_two_inserts_is_repaired_without_duplicates(archive, default_rules, tmp_path):
    """SIGKILL after the records' insert but before the index's, then after both: the replays add
    each (key, day) once (every record has a key of its own, so any duplicate would show)."""
    chdb_path = tmp_path / "exporter-chdb"
    archive.manage("archive", "migrate", chdb_path=chdb_path)
    pipe = archive.redis.pipeline()
    for i in range(600):
        pipe.xadd(archive.stream, _entry(f"c{i}", DAY1 + i * 60_000, json.dumps({"user_id": f"u{i}"})))
    pipe.execute()
    env = {"ARCHIVE_EXPORT_BATCH_SIZE": "200"}
    for point in ("clickhouse_records_written:1", "clickhouse_written:2"):
        crashed = archive.manage("archive", "export", "--drain", check=False, chdb_path=chdb_path,
                                 env={**env, "ARCHIVE_EXPORT_CRASH_AT": point})
        assert crashed.returncode == -signal.SIGKILL, f"{point}: {crashed.stdout}\n{crashed.stderr}"
    archive.manage("archive", "export", "--drain", chdb_path=chdb_path, env=env)

    counted = archive.manage(
        "shell", "-c", "from apps.warehouse import client as ch; print(ch.query('SELECT count(), "
        "uniqExact(key_hash, day), countIf(day = toDate(\\'2025-11-24\\')) FROM {db}.subject_index', "
        "tag='test').result_rows[0])", chdb_path=chdb_path)
    assert counted.stdout.strip().splitlines()[-1] == "(600, 600, 480)"


def test_the_column_is_extract_of_every_record():
    """The column-wise shortcut (only payloads that name a rule's field as a quoted key are parsed)
    gives exactly what `extract` gives record by record, also for odd field names and escapes."""
    rules = [*DEFAULT_RULES, Rule("account", "payload", 'acc"ount/id'), Rule("handle", "payload", "hándle")]
    payloads = [
        '{"email": "A@B.org"}', '{"Email": "a@b.org"}', '{"user_id": 7, "customer_id": "c"}',
        '{"acc\\"ount\\/id": "x1"}', '{"acc\\"ount/id": "x2"}', '{"h\\u00e1ndle": "h1"}', '{"hándle": "h2"}',
        '["email", "user_id"]', '{"email": {"nested": 1}}', "", None, '{"email": "x@y.z"', b"\xff\xfe{}",
        '{"e\\u006dail": "esc@x.org"}', '{"user_id": "  "}', '{"email": "last@x.org", "email": "dup@x.org"}',
    ]
    tags = [{"user_id": "t1"} if i % 3 == 0 else ({"other": "x"} if i % 3 == 1 else None) for i in range(len(payloads))]
    raw = [p.encode() if isinstance(p, str) else p for p in payloads]
    column = subject_keys_column(rules, pa.array(raw, pa.binary()),
                                 pa.array([list(t.items()) if t else [] for t in tags],
                                          pa.map_(pa.string(), pa.string())))
    expected = [extract(rules, payload=p.decode(errors="replace") if p is not None else None, tags=t)
                for p, t in zip(raw, tags)]
    assert column.to_pylist() == expected
    assert sum(1 for keys in expected if keys) >= 10  # most of them hold a key: the shortcut skipped none
    assert subject_keys_column([], pa.array(raw, pa.binary()), pa.array([[]] * len(raw),
                               pa.map_(pa.string(), pa.string()))).to_pylist() == [[]] * len(raw)
