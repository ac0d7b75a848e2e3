"""What is held per day (apps.warehouse.held): retention_status reads the summary for the days it
is exact on, and says what jobs_all holds whatever has been written, purged or refreshed since."""

from __future__ import annotations

import threading
import time
from datetime import datetime, timezone

import pytest

from apps.core import postgres
from apps.explorer import services
from apps.explorer.models import QueryRun, RunState
from apps.retention.purge import Selection, apply_purge, preview_purge
from apps.warehouse import client as ch
from apps.warehouse import held

ALL_TIME = {"from": "2000-01-01"}


def _status(actor) -> tuple[dict, QueryRun]:
    run = services.query_run_submit(actor=actor, template="retention_status", params=ALL_TIME)
    done = services.query_run_execute(run_id=str(run.pk), rows_back=10_000)
    assert done["run"]["state"] == RunState.SUCCEEDED, done["run"]["error"]
    names = [name for name, _ in done["run"]["columns"]]
    rows = [dict(zip(names, row)) for row in done["rows"]]
    return {(r["queue"], r["outcome"]): (r["records"], r["oldest"], r["newest"]) for r in rows}, \
        QueryRun.objects.get(pk=run.pk)


def _held_now() -> dict:
    """The same question asked of jobs_all directly."""
    rows = ch.query("SELECT toString(queue), toString(outcome), count(), toString(min(enqueue_time)), "
                    "toString(max(enqueue_time)) FROM {db}.jobs_all GROUP BY 1, 2", tag="test").result_rows
    return {(q, o): (n, lo, hi) for q, o, n, lo, hi in rows}


def _comparable(status: dict) -> dict:
    def moment(value):
        return datetime.fromisoformat(str(value)).replace(tzinfo=None)

    return {k: (n, moment(lo), moment(hi)) for k, (n, lo, hi) in status.items()}


def _days(records) -> set:
    return {r["enqueue_time"].date() for r in records}


def test_retention_status_is_exact_from_the_summary_and_after_a_purge(exported, analyst, records):
    # Exported: every day written is stale, so the answer comes from jobs_all alone.
    assert set(held.stale_days()) == _days(records) and held.summarised_days() == []
    before, _ = _status(analyst)
    assert sum(n for n, _, _ in before.values()) == len(records)
    assert _comparable(before) == _comparable(_held_now())

    assert held.refresh() == {"summarised": len(_days(records)), "stale": 0}
    assert set(held.summarised_days()) == _days(records)
    after, _ = _status(analyst)
    assert after == before
    # The summary is what is read for a fresh day: a row put there shows; once the day is stale, it does not.
    day = held.summarised_days()[0]
    ch.command("INSERT INTO {db}.held_daily VALUES ({d:Date}, 'planted', 'success', 7, {d:Date}, {d:Date}, "
               "{v:UInt64}, 0)", tag="test", parameters={"d": day, "v": time.time_ns()})
    assert _status(analyst)[0][("planted", "success")][0] == 7
    with held.changing([day]):
        pass
    assert _status(analyst)[0] == before
    held.refresh()

    # A purge of one queue's older records: their days go stale at once, and the answer stays exact.
    cut = sorted(r["enqueue_time"] for r in records)[len(records) // 2]
    queue = records[0]["queue"]
    purged = apply_purge(preview_purge([Selection(before=cut, queue=queue)]))
    assert purged["records"] == sum(1 for r in records if r["queue"] == queue and r["enqueue_time"] < cut) > 0
    assert held.stale_days()
    status, _ = _status(analyst)
    assert _comparable(status) == _comparable(_held_now())
    assert sum(n for n, _, _ in status.values()) == len(records) - purged["records"]
    held.refresh()
    assert held.stale_days() == [] and _status(analyst)[0] == status


def test_a_refresh_waits_for_the_writes_under_way(exported):
    day = held.stale_days()[0]
    entered, leave = threading.Event(), threading.Event()

    def write():
        with held.changing([day]):
            entered.set()
            leave.wait(30)

    writer = threading.Thread(target=write)
    writer.start()
    try:
        assert entered.wait(10)
        assert held.refresh(wait_s=0.5) == {"summarised": 0, "stale": len(held.stale_days())}
        assert day not in held.summarised_days()
    finally:
        leave.set()
        writer.join(10)
    assert held.refresh()["stale"] == 0 and day in held.summarised_days()


def test_a_writer_whose_lock_is_lost_mid_write_leaves_its_days_stale(exported, analyst, records):
    """Its session gone (PostgreSQL restarted, say), a refresh may summarise the day before the write
    lands; the write marks the day stale again when it ends, so no reader takes the old rows."""
    held.refresh()
    day = sorted(_days(records))[0]
    with held.changing([day]):
        with postgres.connect(autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                          "WHERE application_name = 'archive-held-writer'")
        assert held.refresh(wait_s=5)["summarised"] == 1 and day in held.summarised_days()
        # The write lands now: one more record on that day.
        moment = datetime.combine(day, datetime.min.time(), tzinfo=timezone.utc).replace(hour=12)
        ch.command("INSERT INTO {db}.jobs_archive (job_id, queue, outcome, enqueue_time, stream_id) "
                   "VALUES ('held-late', 'emails', 'success', {t:DateTime64(6, 'UTC')}, '1-0')",
                   tag="test", parameters={"t": moment})
    assert day in held.stale_days()
    status, _ = _status(analyst)
    assert sum(n for n, _, _ in status.values()) == len(records) + 1
    assert _comparable(status) == _comparable(_held_now())


def test_a_write_that_fails_leaves_its_days_stale(exported):
    held.refresh()
    day = held.summarised_days()[0]
    with pytest.raises(RuntimeError):
        with held.changing([day]):
            raise RuntimeError("the write failed half way")
    assert day in held.stale_days() and day not in held.summarised_days()


def test_the_days_archived_before_the_summary_are_marked_stale_once(exported, records):
    ch.command("TRUNCATE TABLE {db}.held_days", tag="test")  # as an archive from before migration 0007
    assert held.mark_unknown_days() == len(_days(records))
    assert set(held.stale_days()) == _days(records) and held.mark_unknown_days() == 0
