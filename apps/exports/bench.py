"""`archive bench`: export throughput against a bare XREADGROUP+XACK loop, and bytes per record per tier.

Runs in isolation: its own SeaweedFS on free ports, its own chDB directory, stream, ClickHouse
database and Iceberg table, all removed afterwards; a running `make run` is not disturbed.
"""

from __future__ import annotations

import gc
import json
import shutil
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from django.conf import settings
from django.test.utils import override_settings

from apps.core import collector
from apps.stream import client as streams
from apps.stream.demo import generate

# Entropy of the random identifiers each record carries (bits): a UUID4 job id, a 128-bit trace
# id, a 64-bit span id, and the 128-bit payload hash. No codec can store these in fewer bytes.
FLOOR_BITS = 122 + 128 + 64 + 128


def _fill(r, stream: str, entries: list[dict[bytes, bytes]]) -> None:
    for start in range(0, len(entries), 5000):
        pipe = r.pipeline(transaction=False)
        for fields in entries[start : start + 5000]:
            pipe.xadd(stream, fields)
        pipe.execute()


def raw_read_ack(r, stream: str, group: str, batch_size: int) -> tuple[int, float]:
    """The ceiling: read and acknowledge every entry, doing nothing else."""
    cfg = streams.StreamConfig(stream=stream, group=group)
    streams.ensure_group(r, cfg)
    done = 0
    started = time.perf_counter()
    # The same read function the exporter uses, so both sides pay the same parsing cost.
    while entries := streams.read_new(r, cfg, "bench", batch_size, None):
        r.xack(stream, group, *[entry_id for entry_id, _ in entries])
        done += len(entries)
    return done, time.perf_counter() - started


def raw_read_ack_collector_paused(r, stream: str, group: str, batch_size: int) -> tuple[int, float]:
    """The same loop with the cyclic garbage collector paused, as the exporter pauses it per batch."""
    with collector.paused():
        return raw_read_ack(r, stream, group, batch_size)


def _raw_json_bytes(entries: list[dict[bytes, bytes]]) -> float:
    total = sum(len(json.dumps({k.decode(): v.decode() for k, v in e.items()}, separators=(",", ":"))) for e in entries)
    return total / len(entries)


@contextmanager
def isolated_archive(log: Callable[[str], None], **extra_settings) -> Iterator[str]:
    """A private SeaweedFS, chDB directory, stream, ClickHouse database and Iceberg table, all removed
    afterwards; yields the stream key. Settings point at them while the block runs."""
    from apps.lake.seaweedfs import SeaweedFS

    workdir = Path(tempfile.mkdtemp(prefix="archive-bench-", dir=settings.VAR_DIR if settings.VAR_DIR.exists() else None))
    suffix = uuid.uuid4().hex[:8]
    s3 = SeaweedFS(workdir / "s3", access_key=settings.AWS_ACCESS_KEY_ID or "bench",
                   secret_key=settings.AWS_SECRET_ACCESS_KEY or "bench-secret", bucket="bench")
    log(f"starting a private SeaweedFS in {workdir}")
    s3.start()
    stream = f"bench:{suffix}:archive:completed"
    overrides = dict(
        S3_ENDPOINT_URL=s3.endpoint_url, S3_BUCKET="bench", AWS_ACCESS_KEY_ID=s3.access_key,
        AWS_SECRET_ACCESS_KEY=s3.secret_key, CLICKHOUSE_URL=f"chdb://{workdir / 'chdb'}",
        CLICKHOUSE_DATABASE=f"bench_{suffix}", ICEBERG_NAMESPACE="bench", ICEBERG_TABLE=f"jobs_{suffix}",
        ARCHIVE_STREAM=stream, ARCHIVE_SINK_CLICKHOUSE=True, ARCHIVE_SINK_ICEBERG=True, **extra_settings,
    )
    r = streams.connection()
    try:
        with override_settings(**overrides):
            from apps.warehouse.services import warehouse_migrate

            warehouse_migrate()
            yield stream
    finally:
        leftovers = r.keys(f"{stream}*")
        if leftovers:
            r.delete(*leftovers)
        _forget_ledger(stream)
        s3.stop()
        shutil.rmtree(workdir, ignore_errors=True)


def _forget_ledger(stream: str) -> None:
    """The benchmark's rows in the portal's database: its batches, their record keys, its totals.
    The same records are generated at every run; kept keys would make the next run all duplicates."""
    from apps.exports.models import DeadLetter, ExportBatch, ExportDay, ExportError, KeyRun

    batches = ExportBatch.objects.filter(stream=stream)
    KeyRun.objects.filter(batch__in=batches.values("id")).delete()
    ExportError.objects.filter(batch__in=batches).delete()
    DeadLetter.objects.filter(stream=stream).delete()
    ExportDay.objects.filter(stream=stream).delete()
    batches.only("id").delete()


def bench_policies():
    """The settings' payload policy for every queue: the benchmark ignores policies stored in the database."""
    from apps.exports.pipeline.policy import PayloadPolicy, UniformPolicies

    return UniformPolicies(PayloadPolicy.from_settings())


def run_bench(*, records: int, log: Callable[[str], None] = print, batch_size: int = 50_000) -> dict:
    r = streams.connection()
    with isolated_archive(log, ARCHIVE_EXPORT_BATCH_SIZE=batch_size) as stream:
        from apps.exports.exporter import Exporter
        from apps.lake.table import load_table
        from apps.warehouse import client as ch

        raw_stream = f"{stream}:raw"
        log(f"generating {records} records")
        entries = generate(records, seed=2026, spread_ms=6 * 3_600_000)
        for target in (f"{raw_stream}:before", stream, f"{raw_stream}:after", f"{raw_stream}:paused"):
            _fill(r, target, entries)
        raw_json_bytes = _raw_json_bytes(entries)
        # The generated records live in Redis now; keeping millions of small objects here
        # would only make the garbage collector slow down both measurements.
        del entries
        gc.collect()

        # The ceiling is measured before and after the pipeline and averaged, so a machine
        # that speeds up or slows down during the run does not tilt the ratio.
        log("measuring the bare XREADGROUP+XACK loop")
        raw_before = raw_read_ack(r, f"{raw_stream}:before", "bench", batch_size)

        log("measuring the export pipeline (validate, sample, redact, hash, Arrow, ClickHouse, Iceberg, XACK)")
        started = time.perf_counter()
        summary = Exporter(batch_size=batch_size, policies=bench_policies()).run()
        pipeline_seconds = time.perf_counter() - started
        log("measuring the bare XREADGROUP+XACK loop again")
        raw_after = raw_read_ack(r, f"{raw_stream}:after", "bench", batch_size)
        log("measuring the bare loop with the garbage collector paused, as the exporter runs")
        paused_done, paused_seconds = raw_read_ack_collector_paused(r, f"{raw_stream}:paused", "bench", batch_size)
        if summary.records != records:
            raise RuntimeError(f"exported {summary.records} of {records} records: {summary.errors}")

        ch.command("OPTIMIZE TABLE {db}.jobs_archive FINAL", tag="bench")
        ch_bytes = ch.query(
            "SELECT sum(data_compressed_bytes) FROM system.parts WHERE database = {db:String} "
            "AND table = 'jobs_archive' AND active",
            tag="bench", parameters={"db": ch.database()},
        ).result_rows[0][0]
        files = load_table().inspect.files()
        parquet_bytes = sum(files.column("file_size_in_bytes").to_pylist())
        pipeline_rate = records / pipeline_seconds
        raw_rates = [done / seconds for done, seconds in (raw_before, raw_after)]
        raw_rate = sum(raw_rates) / 2
        return {
            "records": records,
            "pipeline_records_per_s": round(pipeline_rate),
            "raw_read_ack_records_per_s": round(raw_rate),
            "raw_read_ack_before_after": [round(rate) for rate in raw_rates],
            "ratio": round(pipeline_rate / raw_rate, 3),
            # Not asked for: the ceiling and ratio if the bare loop paused the collector too.
            "raw_read_ack_collector_paused_records_per_s": round(paused_done / paused_seconds),
            "ratio_to_collector_paused_loop": round(pipeline_rate * paused_seconds / paused_done, 3),
            "clickhouse_bytes_per_record": round(ch_bytes / records, 1),
            "parquet_bytes_per_record": round(parquet_bytes / records, 1),
            "raw_json_bytes_per_record": round(raw_json_bytes, 1),
            "floor_bytes_per_record": round(FLOOR_BITS / 8, 1),
            "batch_size": batch_size,
            "parquet_files": files.num_rows,
            "pipeline_stage_seconds": {stage: round(seconds, 3) for stage, seconds in summary.stage_seconds.items()},
        }
