"""Compliance officers in the admin: the effective policy explained, a purge previewed, then confirmed."""

from __future__ import annotations

from auditlog.models import LogEntry
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission

from apps.retention.models import RetentionPolicy, RetentionRun
from apps.approvals.models import Approval
from tests.retention.helpers import T0, export, four_eyes, jobs_all_counts, produce


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
        "queue": "emails", "outcome": "", "description": "PII", "cold_days": "60", "redaction_patterns": "",
        "keep_failures": "unknown", "payload_mode": "",
    })
    assert response.status_code == 302, response.content.decode()[:2000]
    entry = LogEntry.objects.get_for_object(emails).latest("timestamp")
    assert entry.actor == officer and entry.changes_dict["cold_days"] == ["30", "60"]


def test_purge_is_previewed_then_asked_for_and_approved(archive, client, settings):
    """The form sends a preview to the worker (eager here: it runs at commit); its page shows what
    would go and asks for exactly that preview's purge, once; a compliance officer approves it, which runs it."""
    sre, officer = four_eyes()
    client.force_login(sre)
    produce(archive, 500, now=T0, days=30, seed=31)
    export()
    total = jobs_all_counts()[0]
    # The admin measures age from now; these records are from simulated March, so "1d" covers them all.
    form = {"older_than": "1d", "queues": "emails", "outcomes": ["success"]}

    submitted = client.post("/admin/retention/retentionrun/purge/", form)
    preview = RetentionRun.objects.get()
    assert submitted.status_code == 302 and submitted.url == f"/admin/retention/retentionrun/{preview.pk}/change/"
    assert preview.dry_run and preview.state == "previewed" and preview.plan["records"] > 0
    page = client.get(submitted.url).content.decode()
    assert f"<td>{preview.plan['records']}</td>" in page and "purge exactly these records" in page
    assert jobs_all_counts()[0] == total  # the preview changed nothing

    unticked = client.post(f"/admin/retention/retentionrun/{preview.pk}/confirm/", {}, follow=True)
    assert "Tick the box" in unticked.content.decode() and RetentionRun.objects.count() == 1
    asked = client.post(f"/admin/retention/retentionrun/{preview.pk}/confirm/", {"confirm": "yes", "reason": "old"})
    approval = Approval.objects.get()
    assert asked.status_code == 302 and asked.url == f"/approvals/{approval.pk}/"
    assert approval.state == "pending" and approval.summary["records"] == preview.plan["records"]
    assert jobs_all_counts()[0] == total and RetentionRun.objects.count() == 1  # asking removed nothing
    assert 'value="approve"' not in client.get(asked.url).content.decode()  # not for the one who asked

    client.force_login(officer)
    done = client.post(f"/approvals/{approval.pk}/decide/",
                       {"decision": "approve", "content_hash": approval.content_hash})
    assert done.status_code == 302
    real = RetentionRun.objects.get(dry_run=False)
    assert real.preview == preview and real.state == "done" and real.requested_by == officer
    assert real.actor == officer.username and real.parameters["before"] == preview.parameters["before"]
    assert real.result["records"] == preview.plan["records"]
    assert jobs_all_counts()[0] == total - preview.plan["records"]
    client.force_login(sre)
    again = client.post(f"/admin/retention/retentionrun/{preview.pk}/confirm/", {"confirm": "yes"}, follow=True)
    assert "confirmed already" in again.content.decode() and RetentionRun.objects.count() == 2


def test_a_purge_needs_its_permission_in_the_service_too(archive):
    """A staff user without the purge permission is refused by the service, whatever calls it."""
    from django.core.exceptions import PermissionDenied
    from datetime import timedelta

    import pytest

    from apps.accounts.actors import Actor
    from apps.retention.services import purge_request

    clerk = get_user_model().objects.create_user("clerk", password="pw", is_staff=True)
    with pytest.raises(PermissionDenied):
        purge_request(actor=Actor.of_user(clerk), older_than=timedelta(days=1), dry_run=True)
    assert not RetentionRun.objects.exists()


def test_a_weakening_change_in_the_admin_opens_an_approval_and_changes_nothing(archive, client):
    from tests.roles import user_in

    officer = user_in("Compliance Officer", "officer")
    client.force_login(officer)
    emails = RetentionPolicy.objects.create(queue="emails", cold_days=30)
    response = client.post(f"/admin/retention/retentionpolicy/{emails.pk}/change/", {
        "queue": "emails", "outcome": "", "description": "", "cold_days": "7", "redaction_patterns": "",
        "keep_failures": "unknown", "payload_mode": "full"})
    approval = Approval.objects.get()
    assert response.status_code == 302 and response.url == f"/approvals/{approval.pk}/"
    emails.refresh_from_db()
    assert emails.cold_days == 30 and emails.payload_mode == ""  # nothing changed until approved
    assert any("cold_days 30 -> 7" in line for line in approval.summary["weakened"])
    assert any("payload_mode sample -> full" in line for line in approval.summary["weakened"])
    assert approval.content["policies"] == [{"queue": "emails", "outcome": "", "cold_days": 7, "payload_mode": "full"}]


def test_a_weakening_new_rule_or_deletion_in_the_admin_waits_for_approval(archive, client):
    from tests.roles import user_in

    client.force_login(user_in("Compliance Officer", "officer"))
    added = client.post("/admin/retention/retentionpolicy/add/", {
        "queue": "emails", "outcome": "", "description": "", "cold_days": "7", "redaction_patterns": "",
        "keep_failures": "unknown", "payload_mode": ""})
    approval = Approval.objects.get()
    assert added.status_code == 302 and added.url == f"/approvals/{approval.pk}/"
    assert not RetentionPolicy.objects.exists()

    RetentionPolicy.objects.create(queue="emails", cold_days=400)
    rule = RetentionPolicy.objects.create(queue="emails", outcome="failed", cold_days=900)
    deleted = client.post(f"/admin/retention/retentionpolicy/{rule.pk}/delete/", {"post": "yes"})
    assert deleted.status_code == 302 and RetentionPolicy.objects.filter(pk=rule.pk).exists()  # 900 -> 400 days
    assert Approval.objects.count() == 2
