"""The dashboard's figures for one time range, read from the rollups on the warehouse worker.

Only the rollups (`apps.warehouse.rollups`): `queue_hourly_stats` gives jobs, failures, retries,
waits and duration percentiles per queue, over time and in total; `error_patterns` the most frequent
error types; `worker_daily_stats` the busiest workers (by whole days: it is a daily rollup). They
hold no personal data and keep their history after tiering and purges, so "all history" is as cheap
as a day. States are merged with the -Merge functions; inside an aggregate every column is named by
the table's alias (`r.jobs`), since `sum(jobs) AS jobs` would make a later `jobs` mean the alias.
Durations are t-digest estimates, as everywhere in the archive.
"""

from __future__ import annotations

import math
from datetime import datetime, timezone

from apps.dashboard import ranges
from apps.explorer.templates import FAILED
from apps.warehouse import client as ch

TOP = 10  # rows in the error and worker tables
_FAILED = f"r.outcome IN ({', '.join(repr(o) for o in FAILED)})"
_DIGEST = "quantilesTDigestMerge(0.5, 0.95)(r.duration_ms)"
_HOURS = "r.hour >= {from:DateTime('UTC')} AND r.hour < {until:DateTime('UTC')}"
_UNTIL = "r.hour < {until:DateTime('UTC')}"
_DAYS = "r.day >= toDate({from:DateTime('UTC')}) AND r.day < toDate({until:DateTime('UTC')}) + 1"
_DAYS_UNTIL = "r.day < toDate({until:DateTime('UTC')}) + 1"


def _ms(value) -> float | None:
    """A duration estimate in ms, None where there was none (a digest of no durations gives NaN)."""
    return None if value is None or math.isnan(value) else round(float(value), 1)


def _rate(failed: int, jobs: int) -> float | None:
    return round(failed / jobs, 4) if jobs else None


def _iso(moment: datetime) -> str:
    return moment.replace(tzinfo=timezone.utc).isoformat() if moment.tzinfo is None else moment.isoformat()


def _rows(sql: str, parameters: dict) -> list:
    return ch.query(sql, tag="dashboard", parameters=parameters).result_rows


def rollup_figures(key: str, *, now: datetime) -> dict:
    """The figures of range `key` ending at `now`; see the module's docstring for where each comes from."""
    span = ranges.span_of(key)
    first, until = ranges.window(span, now)
    params = {"until": ch.utc_naive(until)}
    if first is not None:
        params["from"] = ch.utc_naive(first)
    hours, days = (_HOURS, _DAYS) if first is not None else (_UNTIL, _DAYS_UNTIL)
    bucket_sql = ranges.BUCKETS[span.bucket][1]

    # One pass over the hours: each (bucket, queue)'s digest is merged once into a state, and those few
    # states give the series, each queue's and the overall percentiles (grouping(): 0, 2 and 3).
    grouped = _rows(
        "SELECT grouping(s.b, s.q) AS g, s.b, s.q, sum(s.jobs) AS jobs, sum(s.failed) AS failed, "
        "quantilesTDigestMerge(0.5, 0.95)(s.d) AS durations "
        f"FROM (SELECT {bucket_sql} AS b, toString(r.queue) AS q, sum(r.jobs) AS jobs, "
        f"sumIf(r.jobs, {_FAILED}) AS failed, quantilesTDigestMergeState(0.5, 0.95)(r.duration_ms) AS d "
        f"FROM {{db}}.queue_hourly_stats AS r WHERE {hours} GROUP BY b, q) AS s "
        "GROUP BY GROUPING SETS ((s.b, s.q), (s.q), ()) ORDER BY g, s.b, s.q", params)
    series_rows = [row[1:] for row in grouped if row[0] == 0]
    digests = {row[2]: row[5] for row in grouped if row[0] == 2}
    whole = next((row[5] for row in grouped if row[0] == 3), (None, None))
    outcome_rows = _rows(
        "SELECT toString(r.queue) AS q, toString(r.outcome) AS o, sum(r.jobs) AS jobs, sum(r.retries) AS retries, "
        "sum(r.wait_ms) AS wait_ms, sum(r.started) AS started, min(r.hour) AS first_hour "
        f"FROM {{db}}.queue_hourly_stats AS r WHERE {hours} GROUP BY q, o ORDER BY q, o", params)
    error_rows = _rows(
        "SELECT toString(r.queue) AS q, toString(r.error_type) AS e, sum(r.failures) AS failures, "
        "uniqExactMerge(r.workers) AS workers, max(r.last_seen) AS last_seen "
        f"FROM {{db}}.error_patterns AS r WHERE {hours} GROUP BY q, e ORDER BY failures DESC, q, e LIMIT {TOP}",
        params)
    worker_rows = _rows(
        "SELECT toString(r.worker_id) AS w, toString(r.worker_version) AS v, sum(r.jobs) AS jobs, "
        f"sum(r.failed) AS failed, {_DIGEST} AS durations, uniqExact(w) OVER () AS workers "
        f"FROM {{db}}.worker_daily_stats AS r WHERE {days} GROUP BY w, v ORDER BY jobs DESC, w, v LIMIT {TOP}",
        params)

    if first is None:  # all history starts at the oldest hour held
        first = min((row[6] for row in outcome_rows), default=None)
        first = first.replace(tzinfo=timezone.utc) if first is not None else None
    starts = ranges.bucket_starts(span, first, until) if first is not None else []
    position = {start: i for i, start in enumerate(starts)}
    queues = sorted({row[0] for row in outcome_rows})
    series = {q: {"jobs": [0] * len(starts), "failed": [0] * len(starts), "failure_rate": [None] * len(starts),
                  "p50_ms": [None] * len(starts), "p95_ms": [None] * len(starts)} for q in queues}
    for bucket, queue, jobs, failed, durations in series_rows:
        i = position.get(bucket.replace(tzinfo=timezone.utc))
        line = series.get(queue)
        if i is None or line is None:
            continue
        line["jobs"][i], line["failed"][i] = int(jobs), int(failed)
        line["failure_rate"][i] = _rate(int(failed), int(jobs))
        line["p50_ms"][i], line["p95_ms"][i] = _ms(durations[0]), _ms(durations[1])

    per_queue = {q: {"queue": q, "jobs": 0, "failed": 0, "retries": 0, "outcomes": {}, "wait_ms": 0, "started": 0}
                 for q in queues}
    for queue, outcome, jobs, retries, wait_ms, started, _first in outcome_rows:
        row = per_queue[queue]
        row["outcomes"][outcome] = int(jobs)
        row["jobs"] += int(jobs)
        row["failed"] += int(jobs) if outcome in FAILED else 0
        row["retries"] += int(retries)
        row["wait_ms"] += int(wait_ms)
        row["started"] += int(started)
    totals = []
    for queue in queues:
        row = per_queue[queue]
        durations = digests.get(queue, (None, None))
        totals.append({"queue": queue, "jobs": row["jobs"], "failed": row["failed"],
                       "failure_rate": _rate(row["failed"], row["jobs"]), "retries": row["retries"],
                       "avg_wait_ms": round(row["wait_ms"] / row["started"], 1) if row["started"] else None,
                       "p50_ms": _ms(durations[0]), "p95_ms": _ms(durations[1]), "outcomes": row["outcomes"]})
    jobs = sum(t["jobs"] for t in totals)
    failed = sum(t["failed"] for t in totals)
    return {
        "range": span.key, "label": span.label, "bucket": span.bucket,
        "from": _iso(first) if first is not None else None, "until": _iso(until),
        "buckets": [_iso(start) for start in starts],
        "queues": queues, "series": series, "per_queue": totals,
        "total": {"jobs": jobs, "failed": failed, "failure_rate": _rate(failed, jobs),
                  "p50_ms": _ms(whole[0]), "p95_ms": _ms(whole[1])},
        "errors": [{"queue": q, "error_type": e, "failures": int(n), "workers": int(w), "last_seen": _iso(last)}
                   for q, e, n, w, last in error_rows],
        "workers": {"count": int(worker_rows[0][5]) if worker_rows else 0,
                    "top": [{"worker_id": w, "worker_version": v, "jobs": int(n), "failure_rate": _rate(int(f), int(n)),
                             "p50_ms": _ms(d[0]), "p95_ms": _ms(d[1])} for w, v, n, f, d, _ in worker_rows]},
    }
