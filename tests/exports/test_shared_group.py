"""Several exporters in one consumer group share the stream: each record lands once, and both did work."""

from __future__ import annotations

import threading

from django.db import connection

from apps.exports.exporter import Exporter
from apps.exports.models import ExportBatch
from apps.stream.demo import generate
from apps.warehouse import client as ch

RECORDS = 6000


def test_two_exporters_share_the_work_without_overlap(archive):
    pipe = archive.redis.pipeline()
    for fields in generate(RECORDS, seed=31):
        pipe.xadd(archive.stream, fields)
    pipe.execute()

    summaries = {}

    def export(name: str) -> None:
        try:
            summaries[name] = Exporter(consumer=name, batch_size=250).run()
        finally:
            connection.close()  # this thread's own database connection

    threads = [threading.Thread(target=export, args=(name,)) for name in ("exporter-a", "exporter-b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)

    assert sum(s.records for s in summaries.values()) == RECORDS
    assert all(not s.errors for s in summaries.values())
    consumers = set(ExportBatch.objects.values_list("consumer", flat=True))
    assert consumers == {"exporter-a", "exporter-b"}, "both exporters should have taken batches"
    count, distinct = ch.query("SELECT count(), uniqExact(job_id) FROM {db}.jobs_archive", tag="test").result_rows[0]
    assert (count, distinct) == (RECORDS, RECORDS)
    cold = archive.iceberg_rows()
    assert cold.num_rows == RECORDS and len(set(cold.column("job_id").to_pylist())) == RECORDS
