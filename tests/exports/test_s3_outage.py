"""S3 goes away mid-export: nothing unwritten is acknowledged, and the export completes once S3 is back."""

from __future__ import annotations

import uuid

from django.conf import settings as django_settings

from apps.exports.exporter import Exporter
from apps.lake.seaweedfs import SeaweedFS
from apps.stream.demo import generate
from apps.warehouse import client as ch

RECORDS = 2000


def _acknowledged_job_ids(redis, stream: str, group: str) -> set[str]:
    entries = redis.xrange(stream)
    pending = {row["message_id"].decode() for row in redis.xpending_range(stream, group, "-", "+", 100_000)}
    last_delivered = next(g for g in redis.xinfo_groups(stream) if g["name"].decode() == group)["last-delivered-id"]
    last_key = tuple(int(p) for p in last_delivered.decode().split("-"))
    acked = set()
    for entry_id, fields in entries:
        eid = entry_id.decode()
        if tuple(int(p) for p in eid.split("-")) <= last_key and eid not in pending:
            acked.add(fields[b"job_id"].decode())
    return acked


def test_s3_outage_mid_export(seaweedfs, settings, redis_conn, transactional_db, _release_catalog_connections,
                              _chdb_path, tmp_path):
    own_s3 = SeaweedFS(tmp_path / "s3", access_key=django_settings.AWS_ACCESS_KEY_ID,
                       secret_key=django_settings.AWS_SECRET_ACCESS_KEY, bucket=django_settings.S3_BUCKET).start()
    suffix = uuid.uuid4().hex[:10]
    settings.S3_ENDPOINT_URL = own_s3.endpoint_url
    settings.ARCHIVE_STREAM = f"test:{suffix}:archive:completed"
    settings.CLICKHOUSE_DATABASE = f"test_{suffix}"
    settings.ICEBERG_TABLE = f"jobs_{suffix}"
    try:
        from apps.lake.table import load_table
        from apps.warehouse.services import warehouse_migrate

        warehouse_migrate()
        pipe = redis_conn.pipeline()
        for fields in generate(RECORDS, seed=5):
            pipe.xadd(settings.ARCHIVE_STREAM, fields)
        pipe.execute()

        def stop_s3_after_two_batches(batch, summary):
            if summary.batches == 2:
                own_s3.stop()

        first = Exporter(batch_size=400).run(on_batch=stop_s3_after_two_batches)
        assert first.records == 800
        assert first.errors, "the export must stop on the S3 failure"
        acked = _acknowledged_job_ids(redis_conn, settings.ARCHIVE_STREAM, settings.ARCHIVE_CONSUMER_GROUP)
        assert len(acked) == 800

        own_s3.start()
        cold = set(load_table().scan().to_arrow().column("job_id").to_pylist())
        warm = {r[0] for r in ch.query("SELECT job_id FROM {db}.jobs_archive", tag="test").result_rows}
        assert acked <= cold and acked <= warm, "an acknowledged record is missing from a sink"
        assert len(cold) == 800  # the failed batch never reached Iceberg

        second = Exporter(batch_size=400).run()
        assert not second.errors
        assert second.recovered_batches == 1

        rows = load_table().scan().to_arrow()
        assert rows.num_rows == RECORDS and len(set(rows.column("job_id").to_pylist())) == RECORDS
        count, distinct = ch.query("SELECT count(), uniqExact(job_id) FROM {db}.jobs_archive", tag="test").result_rows[0]
        assert (count, distinct) == (RECORDS, RECORDS)
        assert redis_conn.xpending(settings.ARCHIVE_STREAM, settings.ARCHIVE_CONSUMER_GROUP)["pending"] == 0
    finally:
        own_s3.stop()
        redis_conn.delete(settings.ARCHIVE_STREAM)
        ch.command("DROP DATABASE IF EXISTS {db} SYNC", tag="test")
