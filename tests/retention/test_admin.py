"""Compliance officers in the admin: the effective policy explained, a purge previewed, then confirmed."""

from __future__ import annotations

from auditlog.models import LogEntry
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission

from apps.retention.models import RetentionPolicy, RetentionRun
from tests.retention.helpers import T0, export, jobs_all_counts, produce


def _officer(client):
    user = get_user_model().objects.create_user("officer", password="pw", is_staff=True)
    user.user_permissions.add(*Permission.objects.filter(content_type__app_label="retention"))
    client.force_login(user)
    return user


def test_policy_page_explains_the_effective_rule_and_audits_changes(archive, client):
    officer = _officer(client)
    RetentionPolicy.objects.create(warm_days=9, cold_days=400)
    emails = RetentionPolicy.objects.create(queue="emails", cold_days=30)

    page = client.get(f"/admin/retention/retentionpolicy/{emails.pk}/change/")
    assert page.status_code == 200
    text = page.content.decode()
    assert "cold_days = 30 (from queue=emails)" in text and "warm_days = 9 (from global default)" in text

    response = client.post(f"/admin/retention/retentionpolicy/{emails.pk}/change/", {
        "queue": "emails", "outcome": "", "description": "PII", "cold_days": "14", "redaction_patterns": "",
        "keep_failures": "unknown", "payload_mode": "",
    })
    assert response.status_code == 302, response.content.decode()[:2000]
    entry = LogEntry.objects.get_for_object(emails).latest("timestamp")
    assert entry.actor == officer and entry.changes_dict["cold_days"] == ["30", "14"]


def test_purge_is_previewed_then_confirmed(archive, client, settings):
    _officer(client)
    produce(archive, 500, now=T0, days=30, seed=31)
    export()
    total = jobs_all_counts()[0]
    # The admin measures age from now; these records are from simulated March, so "1d" covers them all.
    form = {"older_than": "1d", "queues": "emails", "outcomes": ["success"]}

    preview = client.post("/admin/retention/retentionrun/purge/", form)
    assert preview.status_code == 200
    run = RetentionRun.objects.get()
    assert run.dry_run and run.state == "previewed"
    assert f"<td>{run.plan['records']}</td>" in preview.content.decode() and run.plan["records"] > 0
    assert jobs_all_counts()[0] == total  # the preview changed nothing

    done = client.post("/admin/retention/retentionrun/purge/", {**form, "confirm": "yes"})
    assert done.status_code == 302
    real = RetentionRun.objects.filter(dry_run=False).get()
    assert real.state == "done" and real.requested_by.username == "officer"
    assert real.result["records"] == run.plan["records"]
    assert jobs_all_counts()[0] == total - run.plan["records"]
