"""The job index, `{db}.job_index` (job_hash, day): on which days a job id has records.

A lookup by job id over all tiers reads this small table first (its sort key is the hash), then
only those days of `jobs_all`, so the cold tier opens one day's files instead of every file. The
exporter's ClickHouse sink adds a batch's rows right after its records (into `job_index_in`,
whose materialized view hashes them into the index); a replay adds the same rows again, which the
table's replacing merge folds and lookups read DISTINCT. Migration 0005 and the first warehouse
migrate after it indexed what was archived before (warm, then cold).
Rows hold a 64-bit hash of the job id, never the id, and only days: tiering, which moves records
between tiers within their day, changes nothing here, and an erased job leaves only a hash that
leads to a day without it. A hash shared by two ids costs an extra day read, never a wrong answer:
the query still filters on the job id itself.
"""

from __future__ import annotations

from datetime import date

import pyarrow as pa
import pyarrow.compute as pc

from apps.warehouse import client as ch

def add(table: pa.Table) -> None:
    """Index a table of records (columns job_id, enqueue_time). Safe to repeat.

    The hash is ClickHouse's own (the intake's materialized view), so lookups agree with it."""
    if table.num_rows == 0:
        return
    # Not made distinct here: a job's attempts on one day fold at the next merge, and lookups read DISTINCT.
    days = pc.cast(table.column("enqueue_time"), pa.date32())
    ch.insert_arrow("job_index_in", pa.table({"job_id": table.column("job_id"), "day": days}), tag="job_index")


def backfill_cold() -> None:
    """Index every record of the cold tier (once, when the index is new; repeating adds nothing new)."""
    ch.command("INSERT INTO {db}.job_index_in SELECT DISTINCT assumeNotNull(job_id), "
               "toDate(assumeNotNull(enqueue_time)) FROM {db}.jobs_cold", tag="job_index")


def days_of_job(job_id: str) -> list[date]:
    """The days that hold records of this job id, sorted (empty: the archive has none)."""
    result = ch.query("SELECT DISTINCT day FROM {db}.job_index WHERE job_hash = cityHash64({id:String}) "
                      "ORDER BY day", tag="job_index", parameters={"id": job_id})
    return [row[0] for row in result.result_rows]
