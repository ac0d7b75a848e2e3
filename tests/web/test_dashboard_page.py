"""The dashboard in the browser, in `make run`'s layout (a real web server that never opens the
warehouse, a real worker that owns it): an SRE logs in and lands on the dashboard, its charts draw
the exported counts (read back from Chart.js on the page), its tables show the same figures, and
switching the range from 24 h to 30 d shows that range's counts."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta, timezone

import pytest
from playwright.sync_api import expect

from apps.dashboard.models import DashboardSnapshot
from tests.retention.helpers import produce
from tests.roles import PASSWORD, user_in
from tests.warehouse_worker import assert_never_opened

pytestmark = pytest.mark.browser
FAILED = ("failed", "timeout", "dead")


def _expected(produced: list[dict], range_key: str) -> tuple[Counter, Counter]:
    """(jobs, failures) per queue of the records enqueued in the hours the range's snapshot covers."""
    figures = DashboardSnapshot.objects.filter(range=range_key).latest().figures
    start = datetime.fromisoformat(figures["from"]).timestamp() * 1000
    until = datetime.fromisoformat(figures["until"]).timestamp() * 1000
    inside = [r for r in produced if start <= r["ms"] < until]
    return Counter(r["queue"] for r in inside), Counter(r["queue"] for r in inside if r["outcome"] in FAILED)


def _charted(page, canvas: str) -> dict[str, float]:
    """Per dataset of the chart on `canvas`, the sum of its points, as Chart.js holds them in the page."""
    return page.evaluate("""(id) => {
        const chart = Chart.getChart(document.getElementById(id));
        return Object.fromEntries(chart.data.datasets.map(d => [d.label, d.data.reduce((a, v) => a + (v || 0), 0)]));
    }""", canvas)


def _table(page) -> dict[str, tuple[int, int]]:
    rows = page.locator("#per-queue tbody tr[data-queue]")
    return {row.get_attribute("data-queue"): (int(row.locator("td.jobs").inner_text()),
                                              int(row.locator("td.failed").inner_text())) for row in rows.all()}


def test_an_sre_sees_the_charts_with_the_exported_counts_and_switches_the_range(archive, warehouse_worker, web,
                                                                               browser_page):
    now = datetime.now(timezone.utc)
    produced = produce(archive, 160, now=now, days=1, seed=171)
    produced += produce(archive, 240, now=now - timedelta(days=2), days=18, seed=172)
    warehouse_worker.manage("archive", "export", "--drain")
    warehouse_worker.manage("archive", "stats")  # the storage figures the dashboard shows beside its own
    user_in("SRE", "sam")
    page = browser_page

    page.goto(web.url + "/login/")
    page.get_by_label("Username").fill("sam")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()
    assert page.url == f"{web.url}/dashboard/"
    expect(page.locator("#nav a").first).to_have_text("Dashboard")
    # No snapshot yet: the page asked the worker for one and reloads until it is there.
    expect(page.locator("#freshness")).to_be_visible(timeout=60_000)
    expect(page.locator('#ranges a[aria-current="page"]')).to_have_text("24 h")

    jobs, failures = _expected(produced, "24h")
    assert 150 <= sum(jobs.values()) <= 160  # the window is whole hours from when the worker computed it
    assert _charted(page, "chart-throughput") == dict(jobs)
    assert _charted(page, "chart-durations").keys() == {"p50", "p95"}
    assert _table(page) == {q: (jobs[q], failures[q]) for q in jobs}
    expect(page.locator("#total-jobs .value")).to_have_text(str(sum(jobs.values())))
    rates = _charted(page, "chart-failure-rate")
    assert rates.keys() == jobs.keys() and sum(rates.values()) > 0
    stored = page.evaluate("() => Chart.getChart(document.getElementById('chart-tiers')).data.datasets[0].data")
    assert len(stored) == 2 and all(b > 0 for b in stored)
    expect(page.locator('#tiers tr[data-tier="cold"] td.records')).to_have_text(str(len(produced)))
    expect(page.locator("#redis-retention .value")).to_have_text("within")
    expect(page.locator("#dead-letters .value")).to_have_text("0")

    page.locator("#ranges").get_by_role("link", name="30 d").click()
    expect(page.locator('#ranges a[aria-current="page"]')).to_have_text("30 d")
    expect(page.locator("#freshness")).to_have_attribute("data-range", "30d", timeout=60_000)
    month, month_failures = _expected(produced, "30d")
    assert sum(month.values()) == len(produced)
    assert _charted(page, "chart-throughput") == dict(month)
    assert _table(page) == {q: (month[q], month_failures[q]) for q in month}
    expect(page.locator("#total-jobs .value")).to_have_text(str(len(produced)))
    assert page.evaluate("() => Chart.getChart(document.getElementById('chart-throughput')).data.labels.length") == 31

    page.get_by_role("button", name="Refresh").click()
    expect(page.get_by_text("The worker is computing the figures")).to_be_visible()
    assert_never_opened(web.chdb_path, "the web process")
