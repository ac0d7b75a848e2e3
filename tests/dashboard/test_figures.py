"""The dashboard's rollup figures: for every range they equal what `jobs_all` counts over the same
hours (per queue, per bucket, failures), before and after tiering, and a snapshot is kept per range."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta, timezone

import pytest

from apps.dashboard import ranges
from apps.dashboard.figures import rollup_figures
from apps.dashboard.models import DashboardSnapshot
from apps.dashboard.services import KEPT, dashboard_refresh
from apps.retention.models import RetentionPolicy
from apps.retention.services import retention_run
from apps.warehouse import client as ch
from tests.actors import TESTS
from tests.retention.helpers import export, produce

NOW = datetime(2026, 3, 1, 9, 30, tzinfo=timezone.utc)
FAILED = "outcome IN ('failed', 'timeout', 'dead')"


def _counted(figures: dict) -> tuple[Counter, Counter, Counter]:
    """(jobs per queue, failures per queue, jobs per (bucket, queue)) as jobs_all has them over the figures' hours."""
    where = "enqueue_time < {until:DateTime64(6, 'UTC')}"
    params = {"until": datetime.fromisoformat(figures["until"])}
    if figures["range"] != "all":
        where += " AND enqueue_time >= {from:DateTime64(6, 'UTC')}"
        params["from"] = datetime.fromisoformat(figures["from"])
    rows = ch.query(f"SELECT toString(queue), toStartOfHour(enqueue_time), countIf({FAILED}), count() "
                    f"FROM {{db}}.jobs_all WHERE {where} GROUP BY 1, 2", tag="test", parameters=params).result_rows
    jobs, failed, per_bucket = Counter(), Counter(), Counter()
    for queue, hour, fails, n in rows:
        bucket = ranges.floor(hour.replace(tzinfo=timezone.utc), figures["bucket"]).isoformat()
        jobs[queue] += n
        failed[queue] += fails
        per_bucket[(bucket, queue)] += n
    return jobs, failed, per_bucket


def _assert_figures_match_jobs_all(now: datetime) -> dict:
    shown = {}
    for key in ranges.SPANS:
        figures = rollup_figures(key, now=now)
        jobs, failed, per_bucket = _counted(figures)
        assert jobs, key  # every range holds some of the records
        assert {q["queue"]: q["jobs"] for q in figures["per_queue"]} == dict(jobs), key
        assert {q["queue"]: q["failed"] for q in figures["per_queue"]} == dict(failed), key
        assert figures["total"]["jobs"] == sum(jobs.values()), key
        series = Counter({(bucket, queue): n for queue, line in figures["series"].items()
                          for bucket, n in zip(figures["buckets"], line["jobs"]) if n})
        assert series == per_bucket, key
        for queue, line in figures["series"].items():
            assert sum(line["failed"]) == failed[queue], (key, queue)
        assert all(q["p50_ms"] is not None and q["p95_ms"] >= q["p50_ms"] for q in figures["per_queue"]), key
        assert sum(e["failures"] for e in figures["errors"]) <= sum(failed.values()), key
        shown[key] = figures
    workers = ch.query("SELECT uniqExact(toString(ifNull(worker_id, ''))) FROM {db}.jobs_all", tag="test").result_rows
    assert shown["all"]["workers"]["count"] == workers[0][0] > 0
    return shown


def test_each_range_counts_what_jobs_all_counts_before_and_after_tiering(archive, settings):
    produced = produce(archive, 900, now=NOW, days=95, seed=141)  # the warm table takes at most 100 days per insert
    export()
    shown = _assert_figures_match_jobs_all(NOW)
    assert shown["all"]["total"]["jobs"] == len(produced)
    day = shown["24h"]
    assert len(day["buckets"]) == 25 and day["buckets"][-1] == "2026-03-01T09:00:00+00:00"
    assert day["from"] == "2026-02-28T09:00:00+00:00" and day["until"] == "2026-03-01T10:00:00+00:00"
    assert shown["7d"]["total"]["jobs"] < shown["30d"]["total"]["jobs"] < shown["90d"]["total"]["jobs"] < len(produced)
    assert len(shown["30d"]["buckets"]) == 31 and shown["all"]["bucket"] == "week"

    settings.ARCHIVE_TIERING_GRACE_SECONDS = 0
    RetentionPolicy.objects.create(warm_days=4)
    retention_run(actor=TESTS, dry_run=False, as_of=NOW, steps=("tiering",))
    after = _assert_figures_match_jobs_all(NOW)
    assert {k: f["per_queue"] for k, f in after.items()} == {k: f["per_queue"] for k, f in shown.items()}


def test_a_refresh_keeps_the_newest_snapshots_of_every_range(archive):
    produce(archive, 200, now=datetime.now(timezone.utc), days=3, seed=142)
    export()
    for minutes in range(KEPT + 2):
        elapsed = dashboard_refresh(now=datetime.now(timezone.utc) - timedelta(minutes=KEPT + 2 - minutes))
    assert set(elapsed) == set(ranges.SPANS)
    for key in ranges.SPANS:
        kept = DashboardSnapshot.objects.filter(range=key)
        assert kept.count() == KEPT
        newest = kept.order_by("-computed_at").first()
        assert newest.figures["range"] == key and newest.elapsed_ms >= 0
    assert DashboardSnapshot.objects.get(range="all", computed_at=newest.computed_at).figures["total"]["jobs"] == 200


def test_an_unknown_range_is_refused_plainly():
    with pytest.raises(ValueError, match="no dashboard range 'yesterday'; one of 24h, 7d, 30d, 90d, all"):
        ranges.span_of("yesterday")
