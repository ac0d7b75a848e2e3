"""The rollups: aggregates per hour (and per day for workers) kept at insert time, no personal data.

`queue_hourly_stats`, `error_patterns` and `worker_daily_stats` (ClickHouse migration 0006) are
filled by materialized views as records arrive: from `jobs_archive` for every warm insert, and from
the intake `rollup_in` for a batch archived without the warm sink (`add_cold_only`) and for what the
archive held before the rollups existed (`backfill`). Tiering, purges and erasure never touch them,
so they keep the long-term history after the records are gone; before any purge their totals equal
the counts of `jobs_all` per queue, outcome and hour (tested).

Exactly once. Every insert that feeds them carries a token (its batch id): without one, ClickHouse
would drop a rollup block equal to a recent one, and two jobs alike in every rolled-up field (hour,
queue, outcome, duration, enqueue time) make equal blocks. A warm insert that ClickHouse drops as
a replay still reaches the views (`deduplicate_blocks_in_dependent_materialized_views`), which drop
it by the same token: so a crash between the warm table's part and a rollup's loses nothing when
the batch is replayed. An intake insert carries its batch's token the same way.

Durations are t-digests (`quantilesTDigestMerge(0.5, 0.9, 0.95, 0.99)(duration_ms)`): approximate,
as every quantile over the archive is, and mergeable over any span of hours.
"""

from __future__ import annotations

import io
import uuid
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.parquet as pq
from django.conf import settings

from apps.warehouse import client as ch

# The settings every insert that feeds the rollups carries, with its batch's token.
DEDUPLICATE_VIEWS = {"insert_deduplicate": 1, "deduplicate_blocks_in_dependent_materialized_views": 1}
INTAKE_COLUMNS = ("queue", "outcome", "enqueue_time", "start_time", "end_time", "retries", "error_type",
                  "worker_id", "worker_version", "payload_size")
DIGEST_LEVELS = (0.5, 0.9, 0.95, 0.99)


@dataclass(frozen=True)
class Rollup:
    name: str
    note: str
    time: str  # the time column: hour or day
    columns: tuple[tuple[str, str, str], ...]  # (name, kind, description) in the table's order
    # kind: key (grouped by), sum, min, max, digest (t-digest of durations), uniq (uniqExact state)

    def column_docs(self) -> dict[str, str]:
        return {name: doc for name, _, doc in self.columns}

    def final_sql(self) -> str:
        """The rollup with its states merged into plain values (quantiles, counts), one row per key,
        for one month ({month:UInt32}, as YYYYMM): what any engine can read."""
        keys = [name for name, kind, _ in self.columns if kind == "key"]
        # A DateTime leaves ClickHouse as Arrow's uint32; readers want a timestamp.
        selected = [f"toDateTime64(r.{k}, 0, 'UTC') AS {k}" if k == "hour" else f"r.{k} AS {k}" for k in keys]
        values = []
        for name, kind, _ in self.columns:
            if kind in ("sum", "min", "max"):
                values.append(f"{kind}(r.{name}) AS {name}")
            elif kind == "uniq":
                values.append(f"uniqExactMerge(r.{name}) AS {name}")
            elif kind == "digest":
                merged = f"quantilesTDigestMerge({', '.join(map(str, DIGEST_LEVELS))})(r.{name})"
                values += [f"{merged}[{i}] AS {name.removesuffix('_ms')}_p{round(level * 100)}_ms"
                           for i, level in enumerate(DIGEST_LEVELS, 1)]
        grouped = ", ".join(f"r.{k}" for k in keys)
        return (f"SELECT {', '.join(selected + values)} FROM {{db}}.{self.name} AS r "
                f"WHERE toYYYYMM(r.{self.time}) = {{month:UInt32}} GROUP BY {grouped} ORDER BY {grouped}")


_DIGEST_DOC = ("durations in ms (end - start) as a t-digest: quantilesTDigestMerge(0.5, 0.9, 0.95, 0.99)"
               "(duration_ms) gives [p50, p90, p95, p99]")
_HOUR = ("hour", "key", "start of the hour (UTC) the jobs were enqueued in")
_QUEUE = ("queue", "key", "queue name")
ROLLUPS = (
    Rollup("queue_hourly_stats", "jobs per hour, queue and outcome (counts, waits, durations); kept after purges",
           "hour", (
               _HOUR, _QUEUE,
               ("outcome", "key", "success, failed, timeout, cancelled, retry or dead"),
               ("jobs", "sum", "attempts archived: sum(jobs)"),
               ("retries", "sum", "sum of the attempts' retry counters"),
               ("payload_bytes", "sum", "sum of the original payload sizes, in bytes"),
               ("started", "sum", "attempts with a start time (the wait's denominator)"),
               ("wait_ms", "sum", "sum of enqueue-to-start waits in ms: sum(wait_ms) / sum(started) is the mean wait"),
               ("duration_ms", "digest", _DIGEST_DOC),
               ("first_seen", "min", "earliest enqueue time in the group: min(first_seen)"),
               ("last_seen", "max", "latest enqueue time in the group: max(last_seen)"),
           )),
    Rollup("error_patterns", "failed, timed-out and dead jobs per hour, queue, outcome and error type", "hour", (
        _HOUR, _QUEUE,
        ("outcome", "key", "failed, timeout or dead"),
        ("error_type", "key", "the exception class or error code"),
        ("failures", "sum", "attempts: sum(failures)"),
        ("retries", "sum", "sum of the attempts' retry counters"),
        ("workers", "uniq", "the distinct workers: uniqExactMerge(workers)"),
        ("first_seen", "min", "earliest enqueue time: min(first_seen)"),
        ("last_seen", "max", "latest enqueue time: max(last_seen)"),
    )),
    Rollup("worker_daily_stats", "jobs per day, queue, worker and worker version", "day", (
        ("day", "key", "the day (UTC) the jobs were enqueued on"),
        _QUEUE,
        ("worker_id", "key", "the worker that ran the attempts"),
        ("worker_version", "key", "its deployed version"),
        ("jobs", "sum", "attempts: sum(jobs)"),
        ("failed", "sum", "attempts that ended failed, timeout or dead: sum(failed)"),
        ("duration_ms", "digest", _DIGEST_DOC),
    )),
)
TABLES = tuple(r.name for r in ROLLUPS)
# The rollups' own plumbing, internal to the portal (the guard refuses it to everyone).
VIEWS = tuple(f"{r.name}_from_{source}" for r in ROLLUPS for source in ("jobs_archive", "rollup_in"))


def add_cold_only(table: pa.Table, batch_id: str) -> None:
    """Count a batch that was archived without the warm sink. Safe to repeat with the same batch id."""
    if table.num_rows == 0:
        return
    ch.insert_arrow("rollup_in", table.select(list(INTAKE_COLUMNS)), tag="rollups",
                    settings_={"insert_deduplication_token": f"{batch_id}:rollups", **DEDUPLICATE_VIEWS})


def backfill() -> None:
    """Count what the archive held before the rollups existed (once, by the migrate that creates them)."""
    columns = ", ".join(INTAKE_COLUMNS)
    ch.command(f"INSERT INTO {{db}}.rollup_in ({columns}) SELECT {columns} FROM {{db}}.jobs_all", tag="rollups",
               settings_={"insert_deduplication_token": f"backfill:{uuid.uuid4()}", **DEDUPLICATE_VIEWS})


def lake_key(rollup: Rollup, month: int) -> str:
    """Where a month of a rollup lies in the lake: Hive-style, so engines read the prefix as one table."""
    tag = f"{month // 100:04d}-{month % 100:02d}"
    return f"{settings.ARCHIVE_ROLLUPS_PREFIX.rstrip('/')}/{rollup.name}/month={tag}/{rollup.name}-{tag}.parquet"


def to_lake(*, months: int | None = None) -> dict:
    """Write the rollups as Parquet into the lake bucket, one object per rollup and month, the states
    merged into plain values (quantiles, distinct counts). Each run rewrites the newest `months`
    months (default ARCHIVE_ROLLUPS_LAKE_MONTHS) and every month the lake does not have yet, so a
    late record of an older month is there at the latest when that month's object is rewritten.
    Returns {rollup: {"months": n, "rows": n}}."""
    from apps.lake import s3

    months = settings.ARCHIVE_ROLLUPS_LAKE_MONTHS if months is None else months
    client, bucket = s3.client(), settings.S3_BUCKET
    written = {}
    for rollup in ROLLUPS:
        held = [row[0] for row in ch.query(
            f"SELECT DISTINCT toYYYYMM({rollup.time}) AS m FROM {{db}}.{rollup.name} ORDER BY m",
            tag="rollups").result_rows]
        prefix = lake_key(rollup, 197001).rsplit("/month=", 1)[0] + "/"
        present = {item["Key"] for page in client.get_paginator("list_objects_v2").paginate(
            Bucket=bucket, Prefix=prefix) for item in page.get("Contents", ())}
        newest = set(held[-months:]) if months else set()
        due = [m for m in held if m in newest or lake_key(rollup, m) not in present]
        rows = 0
        for month in due:
            table = ch.query_arrow(rollup.final_sql(), tag="rollups", parameters={"month": month})
            sink = io.BytesIO()
            pq.write_table(table, sink, compression="zstd")
            client.put_object(Bucket=bucket, Key=lake_key(rollup, month), Body=sink.getvalue(),
                              ContentType="application/vnd.apache.parquet")
            rows += table.num_rows
        written[rollup.name] = {"months": len(due), "rows": rows}
    return written
