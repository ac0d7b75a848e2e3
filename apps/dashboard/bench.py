"""`archive bench --dashboard`: how long the worker takes to compute the dashboard's figures of a range.

Loads records over 365 days into a private archive through the query bench's loading path
(`apps.explorer.bench.bulk_load`: both tiers, the job index and the rollups, as tiering leaves
them), waits for the merges, then times `rollup_figures` (every query the dashboard's snapshot of a
range takes, against the rollups only) for 24 h, 30 days and all history, after warm-up runs.
Figures only, never a pass or a fail: absolute times depend on the machine.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timezone

BENCH_RANGES = ("24h", "30d", "all")


def run_dashboard_bench(*, records: int, days: int = 365, warm_days: int = 30, repeats: int = 20,
                        log: Callable[[str], None] = print) -> dict:
    from apps.core.latency import time_repeatedly
    from apps.dashboard.figures import rollup_figures
    from apps.explorer.bench import _settle, bulk_load
    from apps.exports.bench import isolated_archive
    from apps.warehouse import client as ch
    from apps.warehouse.rollups import TABLES

    now = datetime.now(timezone.utc)
    with isolated_archive(log, ARCHIVE_WARM_DAYS=warm_days):
        log(f"loading {records} records over {days} days, the last {warm_days} warm")
        loaded = bulk_load(records=records, days=days, warm_days=warm_days, now=now, log=log)
        _settle(log)
        rollup_rows = {name: int(ch.query(f"SELECT count() FROM {{db}}.{name}", tag="bench").result_rows[0][0])
                       for name in TABLES}
        timed, jobs = {}, {}
        for key in BENCH_RANGES:
            log(f"timing the dashboard's figures for {key}")
            timed[key] = time_repeatedly(lambda key=key: rollup_figures(key, now=now), repeats)
            jobs[key] = rollup_figures(key, now=now)["total"]["jobs"]
    if jobs["all"] != loaded["records"]:
        raise RuntimeError(f"the dashboard counted {jobs['all']} jobs over all history, {loaded['records']} were loaded")
    return {"records": loaded["records"], "days": days, "warm_days": warm_days, "load_seconds": loaded["load_seconds"],
            "repeats": repeats, "warmups": 3, "rollup_rows": rollup_rows,
            "ranges": {key: {**timed[key], "jobs": jobs[key]} for key in BENCH_RANGES},
            "what": "rollup_figures(range): the four rollup queries of one range's snapshot, in the worker's process"}
