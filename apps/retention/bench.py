"""`archive bench --tiers`: warm-to-cold and compaction throughput, and query latency per tier.

Records are spread over `days` days (60 by default) and exported; with a 30-day warm window,
tiering moves the older half to the cold tier only. Then compaction rewrites every closed day,
and each query template runs repeatedly against the warm table (the recent days analysts ask
about most) and against `jobs_all` (both tiers). Runs in the same isolation as the export bench.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime, timedelta, timezone

from apps.core.latency import time_repeatedly
from apps.exports.bench import _fill, bench_policies, isolated_archive
from apps.stream import client as streams
from apps.stream.demo import generate

DAY_MS = 86_400_000
CHUNK = 100_000

# The seed design's three query templates plus a lookup by job id. {since} is bound per run.
TEMPLATES = {
    "queue_health": (
        "SELECT queue, outcome, count() AS jobs, quantile(0.95)(dateDiff('millisecond', start_time, end_time)) AS p95_ms "
        "FROM {db}.%(table)s WHERE enqueue_time >= {since:DateTime64(6, 'UTC')} GROUP BY queue, outcome"
    ),
    "error_investigation": (
        "SELECT error_type, count() AS failures, any(error_msg) AS example FROM {db}.%(table)s "
        "WHERE queue = {queue:String} AND outcome IN ('failed', 'timeout', 'dead') "
        "AND enqueue_time >= {since:DateTime64(6, 'UTC')} GROUP BY error_type ORDER BY failures DESC LIMIT 20"
    ),
    "capacity_planning": (
        "SELECT toStartOfHour(enqueue_time) AS hour, queue, count() AS jobs, "
        "avg(dateDiff('millisecond', enqueue_time, start_time)) AS wait_ms FROM {db}.%(table)s "
        "WHERE enqueue_time >= {since:DateTime64(6, 'UTC')} GROUP BY hour, queue ORDER BY hour"
    ),
    "job_lookup": "SELECT * FROM {db}.%(table)s WHERE job_id = {job_id:String}",
}


def _latencies(sql: str, parameters: dict, repeats: int) -> dict:
    from apps.warehouse import client as ch

    return time_repeatedly(lambda: ch.query(sql, tag="bench", parameters=parameters), repeats)


def run_tiers_bench(*, records: int, days: int = 60, warm_days: int = 30, repeats: int = 20,
                        log: Callable[[str], None] = print) -> dict:
    from django.test.utils import override_settings

    r = streams.connection()
    now = datetime(2026, 6, 1, tzinfo=timezone.utc)
    with isolated_archive(log, ARCHIVE_WARM_DAYS=warm_days, ARCHIVE_TIERING_GRACE_SECONDS=0,
                          ARCHIVE_ORPHAN_MIN_AGE_SECONDS=0) as stream, override_settings():
        from apps.exports.exporter import Exporter
        from apps.lake import maintenance
        from apps.retention import runner
        from apps.retention.resolution import PolicyBook
        from apps.warehouse import client as ch

        log(f"generating and exporting {records} records over {days} days")
        job_id = None
        exported = 0
        started = time.perf_counter()
        for chunk, offset in enumerate(range(0, records, CHUNK)):
            entries = generate(min(CHUNK, records - offset), seed=7000 + chunk, now_ms=int(now.timestamp() * 1000),
                               spread_ms=days * DAY_MS)
            job_id = job_id or entries[0][b"job_id"].decode()
            _fill(r, stream, entries)
            del entries
            exported += Exporter(batch_size=CHUNK, policies=bench_policies()).run().records
        export_seconds = time.perf_counter() - started
        if exported != records:
            raise RuntimeError(f"exported {exported} of {records} records")

        book = PolicyBook([])  # the built-in defaults: the settings above
        log("tiering: verifying and moving the days past the warm window")
        started = time.perf_counter()
        plan = runner.plan_run(book, now, ("tiering",))
        result = runner.apply_run(plan)
        tiering_seconds = time.perf_counter() - started
        moved = result["tiering"]["evicted_records"]

        files_before = maintenance.table_size()["files"]
        log(f"compacting {files_before} Parquet files")
        started = time.perf_counter()
        plan = runner.plan_run(book, now + timedelta(days=1), ("compaction",))
        compacted = runner.apply_run(plan)["compaction"]
        compaction_seconds = time.perf_counter() - started

        warm, total = (int(ch.query(f"SELECT count() FROM {{db}}.{t}", tag="bench").result_rows[0][0])
                       for t in ("jobs_archive", "jobs_all"))
        log("timing the query templates")
        queries = {}
        for name, template in TEMPLATES.items():
            recent = {"since": (now - timedelta(days=7)).replace(tzinfo=None), "queue": "billing", "job_id": job_id}
            whole = {**recent, "since": (now - timedelta(days=days)).replace(tzinfo=None)}
            queries[name] = {
                "warm_last_7_days": _latencies(template % {"table": "jobs_archive"}, recent, repeats),
                "all_tiers_last_7_days": _latencies(template % {"table": "jobs_all"}, recent, repeats),
                "all_tiers_all_days": _latencies(template % {"table": "jobs_all"}, whole, repeats),
            }
        return {
            "records": records,
            "days": days,
            "warm_records": warm,
            "cold_only_records": total - warm,
            "jobs_all_records": total,
            "export_records_per_s": round(records / export_seconds),
            "tiering_records_per_s": round(moved / tiering_seconds) if moved else 0,
            "tiering_seconds": round(tiering_seconds, 2),
            "compaction_records_per_s": round(compacted["records"] / compaction_seconds) if compaction_seconds else 0,
            "compaction_files_before_after": [compacted["files_before"], compacted["files_after"]],
            "compaction_seconds": round(compaction_seconds, 2),
            "query_repeats": repeats,
            "queries": queries,
        }
