"""The shipped version to the next end to end: producers send both versions, old warm partitions and cold
files stay readable, an incompatible version after it is refused with its reasons, and a fresh warehouse
replays the applied versions."""

from __future__ import annotations

import json
import uuid
from collections import Counter
from datetime import timedelta

import pytest
from django.utils import timezone

from apps.exports.exporter import Exporter
from apps.lake.table import load_table
from apps.retention.models import RetentionPolicy
from apps.retention.services import retention_run
from apps.schemas.evolution import migration_name
from apps.schemas.models import SchemaVersion
from apps.schemas.services import SchemaRefused, schema_apply
from apps.stream.producer import Completion, record_completions
from apps.warehouse import client as ch
from tests.actors import TESTS
from tests.schemas.conftest import NEXT, SHIPPED

T0 = 1_764_000_000_000


def _v1_completions(n: int, prefix: str) -> list[Completion]:
    return [Completion(job_id=f"{prefix}-{i}", queue="emails", outcome="success", enqueue_time=T0 + i,
                       worker_id="w-1", worker_version="2026.11.3") for i in range(n)]


def _raw(job_id: str, version: int | None, **extra: str) -> dict[bytes, bytes]:
    fields = {"job_id": job_id, "queue": "billing", "outcome": "success", "enqueue_time": str(T0 + 5_000), **extra}
    if version is not None:
        fields["schema_version"] = str(version)
    return {k.encode(): v.encode() for k, v in fields.items()}


def _warm_groups() -> Counter:
    rows = ch.query("SELECT schema_version, region, billed_units, count() FROM {db}.jobs_archive "
                    "GROUP BY schema_version, region, billed_units", tag="test").result_rows
    return Counter({(v, r, b): n for v, r, b, n in rows})


def test_next_version_with_producers_on_both_versions(archive, next_spec):
    # Before: 40 records of version 1 in both tiers (these become the old partitions and files).
    record_completions(_v1_completions(40, "before"), connection=archive.redis, stream=archive.stream)
    assert Exporter().run().records == 40

    result = schema_apply(spec=next_spec, actor=TESTS, via="test")
    assert result["applied"] is True and result["version"] == NEXT
    assert result["added"] == ["region", "billed_units"] and result["deprecated"] == ["worker_version"]
    assert result["clickhouse_migration"] == migration_name(NEXT)
    assert SchemaVersion.objects.filter(number=NEXT, applied_via="test").exists()

    # After: producers on v1 (the producer API still sends v1) and on the new version, side by side.
    record_completions(_v1_completions(20, "after-v1"), connection=archive.redis, stream=archive.stream)
    pipe = archive.redis.pipeline()
    for i in range(5):  # v1 producers cannot set a field of a later version: what they send under its name is ignored
        pipe.xadd(archive.stream, _raw(f"v1-stray-{i}", 1, region="mars"))
    for i in range(20):  # producers on the new version send the new fields and leave out the deprecated one
        pipe.xadd(archive.stream, _raw(f"new-{i}", NEXT, region="eu-west-1", billed_units="3"))
    for i in range(5):  # ... or leave out the new fields too
        pipe.xadd(archive.stream, _raw(f"new-bare-{i}", NEXT))
    pipe.xadd(archive.stream, _raw("new-rfc3339", NEXT, region="us-east-1", billed_units="-12",
                                   start_time="2026-11-24T16:00:05.5+00:00"))
    pipe.xadd(archive.stream, _raw("new-bad", NEXT, billed_units="lots"))
    pipe.xadd(archive.stream, _raw("too-early", NEXT + 1))
    pipe.execute()

    summary = Exporter().run()
    assert summary.records == 20 + 5 + 20 + 5 + 1
    assert summary.dead_letters == 2
    reasons = sorted(f[b"reason"].decode() for _, f in archive.redis.xrange(f"{archive.stream}:dead"))
    assert reasons == ["billed_units: 'lots' is not an integer",
                       f"schema_version: {NEXT + 1} is not supported (supported: 1-{NEXT})"]

    expected = Counter({
        (1, "unknown", None): 40 + 20 + 5,  # old warm partitions read the default; v1 records are upcast
        (NEXT, "eu-west-1", 3): 20,
        (NEXT, "unknown", None): 5,
        (NEXT, "us-east-1", -12): 1,
    })
    assert _warm_groups() == expected
    assert archive.clickhouse_count() == 91
    # The deprecated field is still stored: kept where sent, empty where left out.
    kept = ch.query("SELECT schema_version, worker_version, count() FROM {db}.jobs_archive "
                    "GROUP BY schema_version, worker_version ORDER BY schema_version, worker_version",
                    tag="test").result_rows
    assert kept == [(1, "", 5), (1, "2026.11.3", 60), (NEXT, "", 26)]

    # Cold, through pyiceberg: files written before the new version read the Iceberg initial default.
    cold = archive.iceberg_rows()
    assert cold.num_rows == 91
    assert Counter(zip(cold.column("schema_version").to_pylist(), cold.column("region").to_pylist(),
                       cold.column("billed_units").to_pylist())) == expected

    # Cold, through ClickHouse: every file is readable; ClickHouse's Iceberg reader does not apply
    # initial defaults, so the 40 records of files written before it read NULL for the new fields.
    rows = ch.query("SELECT schema_version, region, billed_units, count() FROM {db}.jobs_cold "
                    "GROUP BY schema_version, region, billed_units", tag="test").result_rows
    assert Counter({(v, r, b): n for v, r, b, n in rows}) == Counter({
        (1, None, None): 40, (1, "unknown", None): 25, (NEXT, "eu-west-1", 3): 20, (NEXT, "unknown", None): 5,
        (NEXT, "us-east-1", -12): 1,
    })
    before = ch.query("SELECT count(), countIf(worker_version = '2026.11.3') FROM {db}.jobs_cold "
                      "WHERE startsWith(job_id, 'before-')", tag="test").result_rows
    assert before == [(40, 40)]

    # jobs_all holds each record once with the new fields: read from the warm tier now, and from the
    # cold tier once tiering has moved everything (the view supplies the default the cold reader leaves NULL).
    def everything() -> Counter:
        rows = ch.query("SELECT schema_version, region, billed_units, count() FROM {db}.jobs_all GROUP BY 1, 2, 3",
                        tag="test").result_rows
        return Counter({(v, r, b): n for v, r, b, n in rows})

    expected_all = Counter({(1, "unknown", None): 65, (NEXT, "eu-west-1", 3): 20, (NEXT, "unknown", None): 5,
                            (NEXT, "us-east-1", -12): 1})
    assert everything() == expected_all
    RetentionPolicy.objects.create(warm_days=1)
    retention_run(actor=TESTS, dry_run=False, as_of=timezone.now() + timedelta(days=10), steps=("tiering",))
    assert archive.clickhouse_count() == 0
    assert everything() == expected_all

    # Applying the same version again is refused (it is no longer the next one); the tiers are unchanged.
    with pytest.raises(SchemaRefused, match=f"version: {NEXT} must be {NEXT + 1}"):
        schema_apply(spec=next_spec, actor=TESTS, via="test")
    again = ch.query("SELECT name FROM {db}.schema_migrations WHERE startsWith(name, 'schema_') ORDER BY name",
                     tag="test").result_rows
    assert again == [(migration_name(v),) for v in range(2, NEXT + 1)]


def test_an_incompatible_version_is_refused_with_its_reasons(archive, next_spec, incompatible_file, tmp_path):
    schema_apply(spec=next_spec, actor=TESTS, via="test")
    later = NEXT + 1

    checked = archive.manage("archive", "schema", "check", "--file", str(incompatible_file), check=False)
    assert checked.returncode != 0
    for reason in (
        "start_time: nullable to required",
        "worker_id: removed without being deprecated first",
        "region: type change from lowcard to int",
        "region: default change from 'unknown' to 0",
        "customer_id: new required field without a default",
    ):
        assert reason in checked.stderr, checked.stderr
    assert f"schema version {later} is refused (5 reasons above); nothing changed" in checked.stderr

    applied = archive.manage("archive", "schema", "apply", "--file", str(incompatible_file), check=False)
    assert applied.returncode != 0 and "customer_id: new required field" in applied.stderr
    assert SchemaVersion.objects.filter(number=later).count() == 0
    columns = [r[0] for r in ch.query("SELECT name FROM system.columns WHERE database = {d:String} "
                                      "AND table = 'jobs_archive'", tag="test",
                                      parameters={"d": archive.database}).result_rows]
    assert "customer_id" not in columns and "region" in columns

    # A compatible one passes the same check; listing shows the history.
    good = tmp_path / f"v{later}.json"
    good.write_text(f'{{"version": {later}, "fields": [' + ", ".join(
        f'{{"name": "{name}"}}' for name in [f["name"] for f in next_spec["fields"]] if name != "worker_id"
    ) + ', {"name": "worker_id_v2", "kind": "lowcard", "default": ""}]}')
    refused = archive.manage("archive", "schema", "check", "--file", str(good), check=False)
    assert "worker_id: removed without being deprecated first" in refused.stderr
    good.write_text(good.read_text().replace('{"name": "worker_id_v2"', f'{{"name": "worker_id", "deprecated_in": {later}}}, '
                                                                         '{"name": "worker_id_v2"'))
    ok = archive.manage("archive", "schema", "check", "--file", str(good))
    assert f"version {later} is compatible with version {NEXT}: added worker_id_v2, deprecated worker_id" in ok.stdout

    dry = archive.manage("archive", "schema", "apply", "--file", str(good), "--dry-run").stdout
    assert (f"ALTER TABLE {archive.database}.jobs_archive ADD COLUMN IF NOT EXISTS `worker_id_v2` "
            "LowCardinality(String) DEFAULT {default:String}  -- default = ''") in dry
    assert SchemaVersion.objects.filter(number=later).count() == 0

    # Applied through the CLI (in its own process, with its own embedded ClickHouse): registry and Iceberg evolve.
    applied = archive.manage("archive", "schema", "apply", "--file", str(good), chdb_path=tmp_path / "chdb")
    assert (f"applied version {later} (added worker_id_v2, deprecated worker_id); ClickHouse migration "
            f"{migration_name(later)}") in applied.stdout
    assert SchemaVersion.objects.get(number=later).applied_via.startswith("cli:")
    assert load_table().schema().find_field("worker_id_v2").initial_default == ""

    listed = archive.manage("archive", "schema", "list").stdout
    assert "region, billed_units" in listed and "worker_id_v2" in listed
    as_json = json.loads(archive.manage("archive", "schema", "list", "--json").stdout)
    assert as_json["version"] == later and as_json["fields"][-1]["name"] == "worker_id_v2"


def test_a_fresh_warehouse_replays_the_applied_versions(archive, next_spec, settings):
    from apps.warehouse.services import warehouse_migrate

    schema_apply(spec=next_spec, actor=TESTS, via="test")
    settings.CLICKHOUSE_DATABASE = f"test_{uuid.uuid4().hex[:10]}"
    settings.ICEBERG_TABLE = f"jobs_{uuid.uuid4().hex[:10]}"
    try:
        warehouse_migrate()
        warehouse_migrate()  # and a second time changes nothing
        names = sorted(n for (n,) in ch.query("SELECT name FROM {db}.schema_migrations", tag="test").result_rows)
        assert [names.count(migration_name(v)) for v in range(2, NEXT + 1)] == [1] * (NEXT - 1)
        types = dict(ch.query("SELECT name, type FROM system.columns WHERE database = {d:String} "
                              "AND table = 'jobs_archive'", tag="test",
                              parameters={"d": settings.CLICKHOUSE_DATABASE}).result_rows)
        assert types["region"] == "LowCardinality(String)" and types["billed_units"] == "Nullable(Int64)"
        assert types["subject_keys"] == "Array(String)"  # version 2, shipped by the archive
        fields = load_table().schema()
        assert fields.find_field("region").initial_default == "unknown"
        assert str(fields.find_field("subject_keys").field_type) == "list<string>"
        # Field ids in the order the versions were applied: v1's (and its map's), v2's list, then the next.
        assert fields.find_field("subject_keys").field_id > fields.find_field("tags").field_type.value_id
        assert fields.find_field("region").field_id > fields.find_field("subject_keys").field_type.element_id
        assert SHIPPED == 2
    finally:
        ch.command("DROP DATABASE IF EXISTS {db} SYNC", tag="test")
        settings.CLICKHOUSE_DATABASE, settings.ICEBERG_TABLE = archive.database, archive.table
