"""The dashboard page: every role sees it, only SRE and Administrator have it recomputed, a user in no
role is refused; a range with no snapshot yet is asked for and says so; nothing here opens the warehouse."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from django.core.exceptions import PermissionDenied

from apps.accounts.actors import Actor
from apps.dashboard.models import DashboardSnapshot
from apps.dashboard.services import dashboard_request_refresh
from tests.retention.helpers import export, produce
from tests.roles import user_in


@pytest.fixture
def exported(archive):
    produced = produce(archive, 150, now=datetime.now(timezone.utc), days=1, seed=151)
    export()
    return produced


def test_a_viewer_sees_the_figures_and_cannot_refresh(exported, client):
    client.force_login(user_in("Viewer", "vic"))
    page = client.get("/dashboard/").content.decode()  # no snapshot yet: asked for (the eager worker task runs)
    assert set(DashboardSnapshot.objects.values_list("range", flat=True)) == {"24h"}
    emails = sum(1 for r in exported if r["queue"] == "emails")
    assert f'<tr data-queue="emails"><td>emails</td><td class="num jobs">{emails}</td>' in page
    assert f'<div class="value">{len(exported)}</div>' in page  # the jobs card
    assert 'id="chart-throughput"' in page and "vendor/chart.js-4.6.1/chart.umd.min.js" in page
    assert "cdn" not in page.lower()
    assert 'aria-current="page">24 h</a>' in page and "Refresh</button>" not in page
    assert '<a href="/dashboard/">Dashboard</a>' in page  # first in the navigation

    assert client.post("/dashboard/refresh/").status_code == 403
    assert DashboardSnapshot.objects.count() == 1
    with pytest.raises(PermissionDenied):
        dashboard_request_refresh(actor=Actor.of_user(user_in("Analyst", "ana")))

    week = client.get("/dashboard/?range=7d").content.decode()
    assert 'aria-current="page">7 d</a>' in week and 'data-range="7d"' in week
    assert DashboardSnapshot.objects.filter(range="7d").count() == 1


def test_an_sre_refreshes_every_range(exported, client):
    client.force_login(user_in("SRE", "sam"))
    response = client.post("/dashboard/refresh/", {"range": "30d"})
    assert response.status_code == 302 and response.url == "/dashboard/?range=30d"
    assert sorted(DashboardSnapshot.objects.values_list("range", flat=True)) == ["24h", "30d", "7d", "90d", "all"]
    page = client.get(response.url).content.decode()
    assert "The worker is computing the figures" in page and "Refresh</button>" in page
    assert DashboardSnapshot.objects.get(range="all").figures["total"]["jobs"] == len(exported)


def test_a_user_in_no_role_is_refused_and_a_visitor_sent_to_log_in(archive, client):
    assert client.get("/dashboard/").url.startswith("/login/")
    client.force_login(user_in(None, "nobody"))
    assert client.get("/dashboard/").status_code == 403
    assert client.post("/dashboard/refresh/").status_code == 403
    assert not DashboardSnapshot.objects.exists()


def test_without_a_worker_the_page_says_so_and_shows_what_it_has(archive, client, settings):
    settings.CELERY_TASK_ALWAYS_EAGER = False  # dispatch asks the broker who serves the queue: nobody
    settings.WAREHOUSE_QUEUE = "warehouse-nobody-serves-this"
    client.force_login(user_in("Administrator", "ada"))
    page = client.get("/dashboard/?range=90d").content.decode()
    assert 'id="no-snapshot"' in page and "No worker serves the warehouse queue" in page
    assert 'id="export-lag"' in page and 'id="redis-retention"' in page and 'id="no-stats"' in page
    assert client.post("/dashboard/refresh/").status_code == 302
    assert not DashboardSnapshot.objects.exists()


def test_the_page_lists_open_erasures_by_due_date_and_pending_approvals(archive, client):
    from datetime import date, timedelta

    from apps.approvals.models import Approval
    from apps.erasure.models import ErasureRequest, ErasureState

    officer = user_in("Compliance Officer", "cora")
    approval = Approval.objects.create(action="erasure", content={"x": 1}, content_hash="0" * 64, target="erasure:1",
                                       requested_by=officer)
    late = ErasureRequest.objects.create(requested_by=officer, reason="ticket 1", legal_basis="art. 17",
                                         due_on=date.today() - timedelta(days=2), criteria={"job_ids": ["j"]},
                                         state=ErasureState.SUBMITTED, approval=approval)
    ErasureRequest.objects.create(requested_by=officer, reason="ticket 2", legal_basis="art. 17",
                                  due_on=date.today() + timedelta(days=9), criteria={"job_ids": ["k"]},
                                  state=ErasureState.DRAFT)
    client.force_login(officer)
    page = client.get("/dashboard/").content.decode()
    assert f">{late.reference}</a>" in page and "overdue by 2" in page and ">9</td>" in page
    assert "1 open approval" in page and "erasure:1" in page
    assert (date.today() - timedelta(days=2)).isoformat() in page

    client.force_login(user_in("Viewer", "vic"))
    shown = client.get("/dashboard/").content.decode()
    assert "2 open erasure requests" in shown and late.reference not in shown and "erasure:1" not in shown
