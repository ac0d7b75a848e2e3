"""On the warehouse worker: the archived attempts a restore's selection names, one per job.

Named jobs are found through the job index (only their days are read); a filtered set is one
queue and outcome over a time range. Both read `jobs_all`, so each attempt comes from the one tier
that serves it; erased rows that are not merged away yet are masked by the engine. Of a job's
attempts in the selection the latest (highest attempt number) is restored: the job runs once more.
"""

from __future__ import annotations

from datetime import datetime

import pyarrow as pa

from apps.warehouse import client as ch

_COLUMNS = ("job_id", "retries", "queue", "outcome", "enqueue_time", "payload_size", "payload_hash",
            "payload_sample", "tags", "subject_keys")


def _read(where: str, parameters: dict, limit: int) -> pa.Table:
    columns = ", ".join(_COLUMNS)
    return ch.query_arrow(f"SELECT {columns} FROM {{db}}.jobs_all WHERE {where} "
                          f"ORDER BY enqueue_time, job_id, retries LIMIT {int(limit)}",
                          tag="restore", parameters=parameters)


def of_jobs(job_ids: list[str], *, limit: int) -> pa.Table:
    from apps.warehouse.job_index import days_of_job

    days = sorted({day for job in job_ids for day in days_of_job(job)})
    if not days:
        return pa.table({name: pa.array([], pa.string()) for name in _COLUMNS})
    return _read("job_id IN {ids:Array(String)} AND toDate(enqueue_time) IN {days:Array(Date)}",
                 {"ids": job_ids, "days": days}, limit)


def of_filter(*, queue: str, outcome: str, start: datetime, end: datetime, limit: int) -> pa.Table:
    return _read("queue = {q:String} AND outcome = {o:String} AND enqueue_time >= {start:DateTime64(6, 'UTC')} "
                 "AND enqueue_time < {end:DateTime64(6, 'UTC')}",
                 {"q": queue, "o": outcome, "start": start, "end": end}, limit)


def latest_per_job(table: pa.Table) -> list[int]:
    """Row positions of each job's latest attempt in the table, in the table's order."""
    best: dict[str, tuple[int, int]] = {}
    for position, (job, attempt) in enumerate(zip(table["job_id"].to_pylist(), table["retries"].to_pylist())):
        if job not in best or attempt >= best[job][0]:
            best[job] = (attempt, position)
    return sorted(position for _, position in best.values())
