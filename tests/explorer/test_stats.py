"""`archive stats` and the stats page: records, bytes, compression, oldest and newest per tier and queue."""

from __future__ import annotations

import json
from collections import Counter
from datetime import datetime, timedelta, timezone

from apps.explorer.models import StatsSnapshot
from apps.retention.models import RetentionPolicy
from apps.retention.services import retention_run
from apps.warehouse.stats import archive_stats
from tests.actors import TESTS
from tests.retention.helpers import T0, export, produce
from tests.roles import user_in


def _moment(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, timezone.utc)


def test_the_figures_count_each_tier_and_queue(archive, settings):
    settings.ARCHIVE_TIERING_GRACE_SECONDS = 0
    RetentionPolicy.objects.create(warm_days=4)
    produced = produce(archive, 600, now=T0, days=12, seed=131)
    export()
    retention_run(actor=TESTS, dry_run=False, as_of=T0, steps=("tiering",))
    first_warm = T0 - timedelta(days=4)
    warm = [r for r in produced if _moment(r["ms"]).date() >= first_warm.date()]

    figures = archive_stats()
    cold, hot = figures["tiers"]["cold"], figures["tiers"]["warm"]
    assert cold["records"] == len(produced) and 0 < hot["records"] <= len(warm)
    assert datetime.fromisoformat(cold["oldest"]) == _moment(min(r["ms"] for r in produced))
    assert datetime.fromisoformat(cold["newest"]) == _moment(max(r["ms"] for r in produced))
    for tier in (cold, hot):
        assert tier["stored_bytes"] > 0 and tier["raw_json_bytes"] > 0
        assert tier["compression_ratio"] == round(tier["raw_json_bytes"] / tier["stored_bytes"], 2)
        assert tier["bytes_saved"] == tier["raw_json_bytes"] - tier["stored_bytes"]
    assert {q["queue"]: q["cold"]["records"] for q in figures["queues"]} == dict(Counter(r["queue"] for r in produced))
    assert sum(q["warm"]["records"] for q in figures["queues"]) == hot["records"]

    one = archive_stats("billing")
    billing = [r for r in produced if r["queue"] == "billing"]
    assert [q["queue"] for q in one["queues"]] == ["billing"]
    assert one["tiers"]["cold"]["records"] == len(billing)
    assert one["tiers"]["cold"]["stored_bytes"] < cold["stored_bytes"]


def test_archive_stats_runs_on_the_worker_and_keeps_a_snapshot(archive, warehouse_worker):
    produced = produce(archive, 300, now=datetime.now(timezone.utc), days=2, seed=132)
    warehouse_worker.manage("archive", "export", "--drain")
    out = warehouse_worker.manage("archive", "stats", "--format", "json")
    figures = json.loads(out.stdout)
    assert figures["tiers"]["warm"]["records"] == figures["tiers"]["cold"]["records"] == len(produced)
    snapshot = StatsSnapshot.objects.get()
    assert snapshot.figures["tiers"] == figures["tiers"]

    shown = warehouse_worker.manage("archive", "stats", "--queue", "emails").stdout
    emails = sum(1 for r in produced if r["queue"] == "emails")
    assert "tier" in shown and "ratio" in shown and f"emails  {emails}" in shown
    assert StatsSnapshot.objects.count() == 1  # one queue's figures are not the archive's snapshot


def test_the_stats_page_shows_the_newest_figures_and_only_operators_recompute(archive, client):
    produced = produce(archive, 120, now=datetime.now(timezone.utc), days=1, seed=133)
    export()
    client.force_login(user_in("Viewer", "vic"))
    assert b"No figures yet" in client.get("/explorer/stats/").content
    assert client.post("/explorer/stats/").status_code == 403
    assert not StatsSnapshot.objects.exists()

    client.force_login(user_in("SRE", "sam"))
    assert client.post("/explorer/stats/").status_code == 302  # computed by the (eager) worker task
    page = client.get("/explorer/stats/").content.decode()
    assert f'<td class="records">{len(produced)}</td>' in page and 'data-queue="emails"' in page
    assert "Compute again now" in page

    client.logout()
    assert client.get("/explorer/stats/").status_code == 302  # to the login page
