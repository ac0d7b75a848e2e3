"""`held_daily`: what `jobs_all` holds per day, queue and outcome, kept exact by every write.

A question about what is held now (the `retention_status` template) cannot use the rollups, which
keep what was purged. Asked of `jobs_all`, it reads every cold day-file (about 4 ms each from
SeaweedFS at 10M records, 2 s over a year). Asked of this summary, it reads one small table for the
days summarised and `jobs_all` only for the others (ClickHouse migration 0007).

Exact, or not used. A day's rows are read only while `held_days` says the day is fresh:
- every write that changes what a day holds runs inside `changing(days)`: the days are marked
  stale before the write and again after it, and a shared PostgreSQL advisory lock is held
  meanwhile (it goes with the writer's session if the writer dies);
- `refresh()` takes that lock exclusively, so it summarises a day only while no write is half
  done, from `jobs_all` itself (erased rows masked), and then marks the day fresh at a newer version;
- a reader takes the days fresh when it starts (`summarised_days`, bound by the template on the
  worker) and reads every other day from `jobs_all`.
A writer that dies mid-write leaves its days stale; the next refresh (beat, every minute) summarises
them again. A day that is stale is only slower to read, never wrong.

The writes that go through `changing`: the exporter's sinks (a batch's days), purges (the warm and
cold places), the erasure's warm and cold steps, and the queries bench's loader. Tiering, compaction
and schema changes move or rewrite records without changing what `jobs_all` holds, so they do not.

Counts and times per queue and outcome only, no record and no identifier: like the rollups, not a
place in the registry of places (nothing here is purged, erased or returned to a subject).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import date, datetime, timezone

import psycopg
import pyarrow as pa
import pyarrow.compute as pc

from apps.core import postgres
from apps.warehouse import client as ch

_NAMESPACE = 0x41524348  # "ARCH", as the other advisory locks of the portal
_HELD = 2  # the retention runs' lock is 1
DAYS_PER_ROUND = 31  # a refresh holds the lock for this many days at most, then lets writers in
LOCK_WAIT_S = 30  # how long a refresh waits for the writes under way


def _key() -> int:
    return (_NAMESPACE << 32) | _HELD


def days_of(table: pa.Table) -> list[date]:
    """The days (UTC) a table of records (column enqueue_time) holds."""
    if table.num_rows == 0:
        return []
    return sorted(pc.unique(pc.cast(table.column("enqueue_time"), pa.date32())).to_pylist())


def _as_days(days: Iterable) -> list[date]:
    return sorted({d if isinstance(d, date) else date.fromisoformat(str(d)) for d in days})


def _mark(days: list[date], *, fresh: bool, version: int | None = None) -> None:
    version = version or time.time_ns()
    ch.insert_arrow("held_days", pa.table({"day": pa.array(days, pa.date32()),
                                           "version": pa.array([version] * len(days), pa.uint64()),
                                           "fresh": pa.array([int(fresh)] * len(days), pa.uint8())}), tag="held")


@contextmanager
def changing(days: Iterable) -> Iterator[None]:
    """Run a write that changes what these days hold: they are stale before, during and after it."""
    days = _as_days(days)
    if not days:
        yield
        return
    with postgres.connect(autocommit=True, application_name="archive-held-writer") as conn:
        conn.execute("SELECT pg_advisory_lock_shared(%s)", [_key()])
        try:
            _mark(days, fresh=False)
            yield
        finally:
            # Again after the write: had the lock's session been lost during it, a refresh may have
            # summarised the days before the write landed.
            _mark(days, fresh=False)
            try:
                conn.execute("SELECT pg_advisory_unlock_shared(%s)", [_key()])
            except psycopg.OperationalError:  # the session is gone, and its lock with it
                pass


def _days(sql: str) -> list[date]:
    return [d for (d,) in ch.query(sql, tag="held").result_rows]


def summarised_days() -> list[date]:
    """The days whose `held_daily` rows are exact now."""
    return _days("SELECT day FROM {db}.held_days FINAL WHERE fresh = 1 ORDER BY day")


def stale_days() -> list[date]:
    return _days("SELECT day FROM {db}.held_days FINAL WHERE fresh = 0 ORDER BY day")


def mark_unknown_days() -> int:
    """Mark stale every day the job index knows and `held_days` does not (what was archived before
    the summary existed); the next refresh summarises them. Idempotent."""
    unknown = _days("SELECT DISTINCT day FROM {db}.job_index "
                    "WHERE day NOT IN (SELECT day FROM {db}.held_days) ORDER BY day")
    if unknown:
        _mark(unknown, fresh=False, version=1)  # older than any write's mark
    return len(unknown)


@contextmanager
def _exclusive(wait_s: float) -> Iterator[bool]:
    """The lock no write holds; False when the writes under way did not finish within `wait_s`."""
    with postgres.connect(autocommit=True, application_name="archive-held-refresh") as conn:
        conn.execute(f"SET lock_timeout = '{int(wait_s * 1000)}ms'")
        try:
            conn.execute("SELECT pg_advisory_lock(%s)", [_key()])
        except psycopg.errors.LockNotAvailable:  # writes still going on: the next refresh tries again
            yield False
            return
        try:
            yield True
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", [_key()])


def _summarise(days: list[date]) -> None:
    """Write these days' rows from `jobs_all` at a new version, a deleted row for each group gone
    since, then mark the days fresh. Readers use no row of a stale day, so the rows need not
    appear all at once."""
    version = time.time_ns()
    parameters = {"days": days}
    now = ch.query("SELECT toDate(enqueue_time) AS day, toString(queue), toString(outcome), count(), "
                   "min(enqueue_time), max(enqueue_time) FROM {db}.jobs_all "
                   "WHERE toDate(enqueue_time) IN {days:Array(Date)} GROUP BY day, queue, outcome",
                   tag="held", parameters=parameters).result_rows
    present = {tuple(row[:3]) for row in now}
    before = ch.query("SELECT day, toString(queue), toString(outcome) FROM {db}.held_daily FINAL "
                      "WHERE day IN {days:Array(Date)}", tag="held", parameters=parameters).result_rows
    epoch = datetime(1970, 1, 1, tzinfo=timezone.utc)
    rows = [(*row, 0) for row in now] + [(*row, 0, epoch, epoch, 1) for row in before if tuple(row) not in present]
    if rows:
        columns = list(zip(*rows))
        times = pa.timestamp("us", tz="UTC")
        ch.insert_arrow("held_daily", pa.table({
            "day": pa.array(columns[0], pa.date32()), "queue": pa.array(columns[1], pa.string()),
            "outcome": pa.array(columns[2], pa.string()), "records": pa.array(columns[3], pa.uint64()),
            "oldest": pa.array(columns[4], times), "newest": pa.array(columns[5], times),
            "version": pa.array([version] * len(rows), pa.uint64()), "deleted": pa.array(columns[6], pa.uint8()),
        }), tag="held")
    _mark(days, fresh=True, version=version)


def refresh(*, wait_s: float = LOCK_WAIT_S) -> dict:
    """Summarise every stale day, `DAYS_PER_ROUND` at a time, each round under the exclusive lock.
    Returns the days summarised and those left stale (writes still going on)."""
    stale = stale_days()
    done = 0
    for start in range(0, len(stale), DAYS_PER_ROUND):
        with _exclusive(wait_s) as got:
            if not got:
                break
            # Read again under the lock: only what is stale now (and no write is under way).
            now_stale = sorted(set(stale_days()) & set(stale[start:start + DAYS_PER_ROUND]))
            if now_stale:
                _summarise(now_stale)
            done += len(now_stale)
    return {"summarised": done, "stale": len(stale_days())}
