"""The query-run overhead: from submitting a run to its first row, through a real worker.

What a console or CLI user waits for on top of the query itself: recording the run (PostgreSQL and
the audit chain), the trip through the broker to the worker that owns the warehouse, the guard, the
query, the result written to S3 and recorded, and the answer back. The bench starts its own worker
(threads pool, like `make run`'s) on a queue and a chDB path of its own, so it never touches a
running portal's warehouse, and measures a small template-like query on an empty archive.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path

from apps.core.latency import percentiles, time_repeatedly
from apps.stream.demo import generate

SQL = "SELECT queue, outcome, count() AS jobs FROM jobs_all GROUP BY queue, outcome"


def _serves(queue: str) -> bool:
    from archive_portal.celery import app

    replies = app.control.inspect(timeout=0.5).active_queues() or {}
    return any(q.get("name") == queue for queues in replies.values() for q in queues)


def measure_run_overhead(*, repeats: int = 40, env: dict | None = None, log: Callable[[str], None] = print) -> dict:
    """p50/p95 of submit-to-first-row (ms) over `repeats` runs, with the engine's own time beside it.

    `env`: the environment the worker starts with (default: this process's), before its own queue and chDB."""
    from apps.accounts.actors import Actor
    from apps.explorer.services import query_run_submit
    from apps.explorer.tasks import execute_query_run
    from apps.warehouse.tasks import warehouse_migrate

    suffix = uuid.uuid4().hex[:10]
    queue = f"bench-queries-{suffix}"
    root = Path(tempfile.mkdtemp(prefix="archive-bench-overhead-"))
    env = {**(env or os.environ), "CLICKHOUSE_URL": f"chdb://{root / 'chdb'}", "TEST_CHDB_PATH": str(root / "chdb"),
           "CLICKHOUSE_DATABASE": f"bench_{suffix}", "ARCHIVE_WAREHOUSE_QUEUE": queue,
           # An Iceberg table of its own (dropped after): the worker links and indexes nothing of anyone else's.
           "ICEBERG_NAMESPACE": _namespace(), "ICEBERG_TABLE": f"overhead_{suffix}",
           "ARCHIVE_TEST_CELERY_EAGER": "false",
           "DJANGO_SETTINGS_MODULE": os.environ.get("DJANGO_SETTINGS_MODULE", "archive_portal.settings.local")}
    log(f"starting a worker on queue {queue} (its own chDB under {root})")
    with (root / "worker.log").open("w") as out:
        worker = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "archive_portal", "worker", "--pool", "threads", "--concurrency",
             "2", "-Q", queue, "-n", f"{queue}@%h", "--without-gossip", "--without-mingle", "--without-heartbeat",
             "--loglevel", "WARNING"], env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 90
        while not _serves(queue):
            if worker.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the bench's worker did not start: {(root / 'worker.log').read_text()[-2000:]}")
            time.sleep(0.3)
        warehouse_migrate.apply_async(queue=queue).get(timeout=300)
        operator = Actor.cli()
        totals, engine = [], []
        for i in range(repeats + 3):
            started = time.perf_counter()
            run = query_run_submit(actor=operator, sql=SQL)
            done = execute_query_run.apply_async(kwargs={"run_id": str(run.pk), "rows_back": 1},
                                                 queue=queue).get(timeout=60)
            elapsed = (time.perf_counter() - started) * 1000
            if done["run"]["state"] != "succeeded":
                raise RuntimeError(f"a bench run ended {done['run']['state']}: {done['run']['error']}")
            if i >= 3:  # the first runs warm the worker's connections
                totals.append(elapsed)
                engine.append(done["run"]["elapsed_ms"] or 0.0)
        return {"runs": repeats, **percentiles(totals), "engine_p50_ms": round(statistics.median(engine), 1),
                "what": "submit (run recorded, audited) -> broker -> worker (guard, query, result to S3) -> first row"}
    finally:
        worker.terminate()
        try:
            worker.wait(30)
        except subprocess.TimeoutExpired:
            worker.kill()
        from apps.stream import client as streams

        streams.connection().delete(queue, f"_kombu.binding.{queue}")
        _drop_iceberg_table(env["ICEBERG_NAMESPACE"], env["ICEBERG_TABLE"])


def _namespace() -> str:
    from django.conf import settings

    return settings.ICEBERG_NAMESPACE


def _drop_iceberg_table(namespace: str, name: str) -> None:
    from pyiceberg.exceptions import NoSuchTableError

    from apps.lake.catalog import get_catalog

    try:
        get_catalog().drop_table((namespace, name))
    except NoSuchTableError:
        pass


DAY_MS = 86_400_000


def bulk_load(*, records: int, days: int, warm_days: int, now: datetime, log: Callable[[str], None]) -> dict:
    """Load `records` over `days` days before `now` as the archive holds them after tiering: every
    record in the cold tier (one Parquet file per day, as compaction leaves it), the last `warm_days`
    days also warm, the older days' groups marked as moved, every record in the job index and the rollups.

    The benchmark's loading path only: the records pass the exporter's transform (the same columns,
    sampling and redaction), but not its ledger, so loading 10M records takes minutes, not hours."""
    from apps.exports.bench import bench_policies
    from apps.exports.pipeline.transform import transform
    from apps.warehouse import held

    per_day = records / days
    block_days = max(1, min(days, int(300_000 // max(per_day, 1)) or 1))
    end_ms = int(now.timestamp() * 1000) // DAY_MS * DAY_MS  # midnight: whole days per block
    warm_from = now - timedelta(days=warm_days)
    loaded, warm, started = 0, 0, time.perf_counter()
    job_ids = {}  # for the lookups: a warm job (of the newest block) and a cold one (of the oldest)
    for block, first in enumerate(range(0, days, block_days)):
        span = min(block_days, days - first)
        n = round(per_day * (first + span)) - round(per_day * first)
        block_end = end_ms - first * DAY_MS
        entries = generate(n, seed=9100 + block, now_ms=block_end - 1, spread_ms=span * DAY_MS - 1)
        data = transform([(f"{i}-0", [x for kv in e.items() for x in kv]) for i, e in enumerate(entries)],
                         bench_policies()).table
        del entries
        with held.changing(held.days_of(data)):  # as every write of the archive
            hot, cold = _load_block(data, block, warm_from)
        if hot.num_rows and "warm" not in job_ids:
            job_ids["warm"] = hot.column("job_id")[0].as_py()
        if cold.num_rows:  # kept from the last block: the oldest days
            job_ids["cold"] = cold.column("job_id")[0].as_py()
        loaded, warm = loaded + data.num_rows, warm + hot.num_rows
        log(f"loaded {loaded}/{records} records ({loaded / (time.perf_counter() - started):.0f}/s)")
    return {"records": loaded, "warm_records": warm, "job_ids": job_ids,
            "load_seconds": round(time.perf_counter() - started, 1)}


def _load_block(data, block: int, warm_from: datetime):
    """One block into both tiers as tiering leaves them; returns its warm and its cold-only records."""
    import pyarrow as pa
    import pyarrow.compute as pc

    from apps.exports.pipeline.sinks import write_cold_only
    from apps.lake import table as lake_table
    from apps.warehouse import client as ch
    from apps.warehouse import job_index, rollups

    lake_table.append_batch(data.sort_by([("queue", "ascending"), ("enqueue_time", "ascending")]),
                            f"bench-load-{block}")
    is_warm = pc.greater_equal(data.column("enqueue_time"), pa.scalar(warm_from, data.schema.field("enqueue_time").type))
    hot = data.filter(is_warm)
    if hot.num_rows:
        token = {"insert_deduplication_token": f"bench-load-{block}", **rollups.DEDUPLICATE_VIEWS}
        ch.insert_arrow("jobs_archive", hot, tag="bench", settings_=token)
        job_index.add(hot)
    # The older days as tiering leaves them: in the cold tier only, indexed, their groups marked.
    cold = data.filter(pc.invert(is_warm))
    write_cold_only(cold, f"bench-load-{block}")
    return hot, cold


def _settle(log: Callable[[str], None], *, limit_s: float = 300) -> None:
    """Wait for the merges the load started (a live archive has merged its older parts long ago)."""
    from apps.warehouse import client as ch

    started = time.monotonic()
    while time.monotonic() - started < limit_s:
        running = ch.query("SELECT count() FROM system.merges WHERE database = {d:String}", tag="bench",
                           parameters={"d": ch.database()}).result_rows[0][0]
        if not running:
            return
        log(f"waiting for {running} merges to finish")
        time.sleep(2)


RANGES = {"last_7_days": 7, "last_90_days": 90, "all_days": None}


def run_queries_bench(*, records: int, days: int = 365, warm_days: int = 30, repeats: int = 20,
                      overhead_runs: int = 40, log: Callable[[str], None] = print) -> dict:
    """`archive bench --queries`: every template over the last 7 and 90 days and all days, a job
    lookup by id, each through the guard and the caps as an analyst's run (in this process, which
    owns the bench's own warehouse), and the query-run overhead through a real worker."""
    from apps.exports.bench import isolated_archive
    from apps.explorer.templates import TEMPLATES
    from apps.warehouse.allowlists import ANALYST
    from apps.warehouse.query import run_read_only

    now = datetime.now(timezone.utc).replace(minute=0, second=0, microsecond=0)
    with isolated_archive(log, ARCHIVE_WARM_DAYS=warm_days):
        log(f"loading {records} records over {days} days, the last {warm_days} warm")
        loaded = bulk_load(records=records, days=days, warm_days=warm_days, now=now, log=log)
        _settle(log)
        # What the beat's refresh does after writes, here for every loaded day at once.
        from apps.warehouse import held

        started = time.perf_counter()
        summarised = held.refresh()["summarised"]
        held_refresh = {"days": summarised, "seconds": round(time.perf_counter() - started, 2)}
        log(f"summarised what is held on {summarised} days in {held_refresh['seconds']} s")

        def runner(template, params: dict, table: str = "jobs_all"):
            bound = template.bind(params)
            sql = template.sql(bound).replace("FROM jobs_all", f"FROM {table}")
            return lambda: run_read_only(sql, allow=ANALYST, parameters=template.prepare(bound))

        queries = {}
        for name, template in TEMPLATES.items():
            if name == "job_lookup":
                continue
            log(f"timing {name}")
            figures = {}
            for label, back in RANGES.items():
                since = (now - timedelta(days=back)) if back else datetime(2000, 1, 1, tzinfo=timezone.utc)
                figures[label] = time_repeatedly(runner(template, {"from": since.isoformat()}), repeats)
            if "FROM jobs_all" in template.select:  # beside it, what the warm table alone costs
                figures["warm_table_last_7_days"] = time_repeatedly(
                    runner(template, {"from": (now - timedelta(days=7)).isoformat()}, "jobs_archive"), repeats)
            queries[name] = figures
        log("timing job lookups")
        # `job_lookup`: a job on a cold day, the slower case (its day's file is read, and jobs_all's
        # routing); `job_lookup_warm`: a job on a warm day (the cold branch opens no file).
        lookups = {}
        for tier, job_id in sorted(loaded["job_ids"].items()):
            lookup = runner(TEMPLATES["job_lookup"], {"job_id": job_id})
            found = lookup()
            if not found.rows:
                raise RuntimeError(f"the job lookup found nothing of {job_id}: the job index misses a loaded record")
            at = found.columns.index("tier")
            lookups[tier] = {**time_repeatedly(lookup, repeats), "attempts_found": len(found.rows),
                             "tiers_found": sorted({row[at] for row in found.rows})}
        log("timing the query-run overhead through a real worker")
        # The worker stores results in the bench's own SeaweedFS; its warehouse is a chDB of its own.
        from django.conf import settings

        s3 = {name: str(getattr(settings, name)) for name in
              ("S3_ENDPOINT_URL", "S3_BUCKET", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")}
        overhead = measure_run_overhead(repeats=overhead_runs, env={**os.environ, **s3}, log=log)
    return {"records": loaded["records"], "days": days, "warm_days": warm_days, "warm_records": loaded["warm_records"],
            "load_seconds": loaded["load_seconds"], "held_refresh": held_refresh, "repeats": repeats, "templates": queries,
            "job_lookup": lookups.get("cold") or lookups["warm"], "job_lookup_warm": lookups.get("warm"),
            "run_overhead": overhead}
