"""The dashboard's refresh through a real worker: the page asks, the worker that owns the warehouse
computes every range from its rollups and keeps the snapshots; beat asks the same task every minute."""

from __future__ import annotations

import time
from collections import Counter
from datetime import datetime, timezone

from apps.core.schedule import SCHEDULE
from apps.dashboard.models import DashboardSnapshot
from apps.dashboard.ranges import SPANS
from apps.dashboard.tasks import dashboard_refresh
from tests.retention.helpers import produce
from tests.roles import user_in
from tests.warehouse_worker import real_dispatch


def _snapshots(ranges: int, timeout: float = 60) -> list[DashboardSnapshot]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = list(DashboardSnapshot.objects.all())
        if len(found) >= ranges:
            return found
        time.sleep(0.3)
    raise AssertionError(f"the worker kept {len(found)} of {ranges} snapshots within {timeout} s")


def test_the_refresh_runs_on_the_worker_that_owns_the_warehouse(warehouse_worker, client):
    produced = produce(warehouse_worker.archive, 240, now=datetime.now(timezone.utc), days=2, seed=161)
    warehouse_worker.manage("archive", "export", "--drain")
    client.force_login(user_in("SRE", "sam"))
    with real_dispatch(warehouse_worker.queue):
        response = client.post("/dashboard/refresh/", {"range": "all"})
        assert response.status_code == 302
        kept = _snapshots(len(SPANS))
    assert sorted(s.range for s in kept) == sorted(SPANS)
    figures = next(s.figures for s in kept if s.range == "all")
    assert {q["queue"]: q["jobs"] for q in figures["per_queue"]} == dict(Counter(r["queue"] for r in produced))
    assert "dashboard_refresh" in warehouse_worker.log()

    with real_dispatch(warehouse_worker.queue):
        page = client.get("/dashboard/?range=all").content.decode()
    assert f'<div class="value">{len(produced)}</div>' in page and 'id="freshness"' in page


def test_beat_asks_for_the_figures_every_minute():
    entry = next(e for e in SCHEDULE if e.task == dashboard_refresh.name)
    assert entry.every_seconds == 60 and entry.kwargs == "{}"
