"""Four eyes: the requester never approves their own request, nobody without the role does, and
only the approved content runs (service, page and command line)."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.exceptions import PermissionDenied
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import IntegrityError, transaction

from apps.accounts.actors import Actor
from apps.approvals.models import Approval
from apps.approvals.services import ApprovalRefused, approval_approve, approval_reject
from apps.audit.models import AuditEvent
from apps.compliance.models import LegalHold
from apps.compliance.services import hold_place, hold_release_request
from apps.retention.models import RetentionPolicy
from apps.retention.services import policy_set
from tests.roles import user_in

pytestmark = pytest.mark.django_db


@pytest.fixture
def people():
    return {"officer": user_in("Compliance Officer", "officer"), "second": user_in("Compliance Officer", "second"),
            "sre": user_in("SRE", "sre"), "viewer": user_in("Viewer", "viewer"),
            "admin": user_in("Administrator", "admin")}


def _as(user) -> Actor:
    return Actor.of_user(user, via="cli")


def _hold_release(people) -> tuple[LegalHold, Approval]:
    hold = hold_place(actor=_as(people["officer"]), reason="litigation 42", queue="billing")
    return hold, hold_release_request(hold=hold, actor=_as(people["officer"]), reason="matter closed")


def _policy_change(people) -> Approval:
    RetentionPolicy.objects.create(cold_days=365)
    changes = policy_set(items=[{"queue": "", "outcome": "", "cold_days": 30}], actor=_as(people["officer"]),
                         reason="storage costs")
    assert changes.weakened and changes.approval
    assert RetentionPolicy.objects.get().cold_days == 365  # nothing changed yet
    return Approval.objects.get(pk=changes.approval)


def test_the_requester_cannot_approve_or_reject_their_own_request(people):
    hold, release = _hold_release(people)
    change = _policy_change(people)
    for approval in (release, change):
        with pytest.raises(ApprovalRefused, match="cannot decide on it"):
            approval_approve(approval=approval, actor=_as(people["officer"]))
        with pytest.raises(ApprovalRefused, match="cannot decide on it"):
            approval_reject(approval=approval, actor=_as(people["officer"]), reason="no")
        approval.refresh_from_db()
        assert approval.state == "pending"
    hold.refresh_from_db()
    assert hold.state == "active" and RetentionPolicy.objects.get().cold_days == 365


def test_the_database_refuses_an_approver_who_asked(people):
    _, release = _hold_release(people)
    with pytest.raises(IntegrityError, match="approver_is_not_requester"), transaction.atomic():
        Approval.objects.filter(pk=release.pk).update(decided_by=people["officer"])


def test_a_user_without_the_role_cannot_approve(people):
    _, release = _hold_release(people)
    for who in ("sre", "viewer"):
        with pytest.raises(PermissionDenied, match="approve_hold_release"):
            approval_approve(approval=release, actor=_as(people[who]))
    with pytest.raises(ApprovalRefused, match="portal user"):
        approval_approve(approval=release, actor=Actor.cli(None))
    release.refresh_from_db()
    assert release.state == "pending"


def test_approving_runs_the_approved_change_and_it_is_audited(people):
    hold, release = _hold_release(people)
    done = approval_approve(approval=release, actor=_as(people["second"]))
    hold.refresh_from_db()
    assert done.state == "approved" and hold.state == "released" and hold.released_by == people["second"]
    change = _policy_change(people)
    approval_approve(approval=change, actor=_as(people["admin"]))
    assert RetentionPolicy.objects.get().cold_days == 30
    actions = list(AuditEvent.objects.order_by("seq").values_list("action", flat=True))
    assert actions == ["hold.placed", "approval.requested", "hold.released", "approval.approved",
                       "approval.requested", "policy.changed", "approval.approved"]


def test_only_the_approved_content_runs(people):
    """An approval whose stored action was changed after the request, or that differs from what the
    approver was shown, is refused; one whose world changed since (other policies) fails, running nothing."""
    change = _policy_change(people)
    shown = change.content_hash
    # Somebody edits the stored action (say, cold_days 1 instead of 30) behind the request.
    Approval.objects.filter(pk=change.pk).update(content={**change.content, "policies": [
        {"queue": "", "outcome": "", "cold_days": 1}]})
    with pytest.raises(ApprovalRefused, match="no longer matches what was asked for"):
        approval_approve(approval=change, actor=_as(people["second"]), content_hash_seen=shown)
    assert RetentionPolicy.objects.get().cold_days == 365

    Approval.objects.filter(pk=change.pk).update(content=change.content)
    with pytest.raises(ApprovalRefused, match="not what you were shown"):
        approval_approve(approval=change, actor=_as(people["second"]), content_hash_seen="0" * 64)

    RetentionPolicy.objects.update(cold_days=400)  # the policies moved on since the request
    failed = approval_approve(approval=change, actor=_as(people["second"]), content_hash_seen=shown)
    assert failed.state == "failed" and "changed since" in failed.error
    assert RetentionPolicy.objects.get().cold_days == 400


def test_a_strengthening_change_needs_no_approval(people):
    RetentionPolicy.objects.create(cold_days=30, payload_mode="full")
    changes = policy_set(items=[{"queue": "", "outcome": "", "cold_days": 60, "payload_mode": "hash"}],
                         actor=_as(people["officer"]))
    assert changes.approval is None and not changes.weakened
    assert RetentionPolicy.objects.get().payload_mode == "hash"


def test_weaker_payload_handling_needs_approval(people):
    RetentionPolicy.objects.create(payload_mode="hash", redaction_patterns="ticket=TCK-\\d{6}")
    for items, why in (([{"queue": "", "outcome": "", "payload_mode": "full",
                          "redaction_patterns": "ticket=TCK-\\d{6}"}], "payload_mode hash -> full"),
                       ([{"queue": "", "outcome": "", "payload_mode": "hash"}], "redaction patterns removed: ticket")):
        changes = policy_set(items=items, actor=_as(people["officer"]))
        assert changes.approval and any(why in line for line in changes.weakened), changes.weakened
    assert RetentionPolicy.objects.get().payload_mode == "hash"


def test_the_command_line_refuses_the_requester_and_runs_for_a_second_person(people, tmp_path):
    hold = hold_place(actor=_as(people["officer"]), reason="audit 2026", tenant="acme")
    out = StringIO()
    call_command("archive", "hold", "release", str(hold.pk), "--by", "officer", "--reason", "done", stdout=out,
                 stderr=StringIO())
    approval = out.getvalue().strip().splitlines()[-1]
    assert approval.startswith("approval ")
    approval_id = approval.split()[1]
    listed = StringIO()
    call_command("archive", "approval", "list", "--format", "json", stdout=listed)
    import json

    items = json.loads(listed.getvalue())
    assert [(i["id"], i["state"], i["action"], i["requested_by"]) for i in items] == [
        (int(approval_id), "pending", "hold_release", "officer")]
    with pytest.raises(CommandError, match="cannot decide on it"):
        call_command("archive", "approval", "approve", approval_id, "--by", "officer")
    with pytest.raises(CommandError, match="approve_hold_release"):
        call_command("archive", "approval", "approve", approval_id, "--by", "sre")
    call_command("archive", "approval", "approve", approval_id, "--by", "second", stdout=StringIO())
    hold.refresh_from_db()
    assert hold.state == "released"


def test_the_approval_page_offers_decisions_only_to_those_who_may(people, client):
    _, release = _hold_release(people)
    page = f"/approvals/{release.pk}/"
    client.force_login(people["officer"])
    text = client.get(page).content.decode()
    assert 'value="approve"' not in text and "a second person approves" in text
    refused = client.post(f"{page}decide/", {"decision": "approve", "content_hash": release.content_hash},
                          follow=True)
    assert "cannot decide on it" in refused.content.decode()
    client.force_login(people["sre"])
    assert 'value="approve"' not in client.get(page).content.decode()
    assert client.post(f"{page}decide/", {"decision": "approve", "content_hash": release.content_hash}).status_code \
        == 403
    client.force_login(people["viewer"])
    assert client.get(page).status_code == 403
    release.refresh_from_db()
    assert release.state == "pending"
    client.force_login(people["second"])
    assert 'value="approve"' in client.get(page).content.decode()
    client.post(f"{page}decide/", {"decision": "approve", "content_hash": release.content_hash})
    release.refresh_from_db()
    assert release.state == "approved"


@pytest.mark.parametrize("role", ["Viewer", "Analyst", "SRE", "Compliance Officer", "Administrator"])
def test_approving_on_the_command_line_per_role(role):
    officer = user_in("Compliance Officer", "officer")
    hold = hold_place(actor=_as(officer), reason="case 9", queue="billing")
    approval = hold_release_request(hold=hold, actor=_as(officer), reason="closed")
    user_in(role, "decider")
    args = ["archive", "approval", "approve", str(approval.pk), "--by", "decider"]
    if role in ("Compliance Officer", "Administrator"):
        call_command(*args, stdout=StringIO())
        approval.refresh_from_db()
        assert approval.state == "approved"
    else:
        with pytest.raises(CommandError, match="may not do this"):
            call_command(*args, stdout=StringIO())
        approval.refresh_from_db()
        assert approval.state == "pending"


def _purge_asked(asker) -> Approval:
    from datetime import timedelta

    from apps.retention.services import purge_approval_request, purge_request, run_execute

    preview = purge_request(actor=_as(asker), older_than=timedelta(days=1), dry_run=True)
    preview = run_execute(run_id=preview.pk)
    return purge_approval_request(preview=preview, actor=_as(asker), reason="old")


def _asked_by(kind: str, asker) -> Approval:
    if kind == "purge":
        return _purge_asked(asker)
    if kind == "policy_change":
        RetentionPolicy.objects.create(cold_days=365)
        return Approval.objects.get(pk=policy_set(items=[{"queue": "", "outcome": "", "cold_days": 30}],
                                                  actor=_as(asker)).approval)
    hold = hold_place(actor=_as(asker), reason="case", queue="billing")
    return hold_release_request(hold=hold, actor=_as(asker), reason="over")


@pytest.mark.parametrize("kind", ["purge", "policy_change", "hold_release"])
def test_an_administrator_cannot_approve_what_they_asked_for_anywhere(kind, archive, client):
    """Holding every permission does not make one person two: service, page and command line refuse."""
    asker = user_in("Administrator", "boss")
    approval = _asked_by(kind, asker)
    with pytest.raises(ApprovalRefused, match="cannot decide on it"):
        approval_approve(approval=approval, actor=_as(asker))
    client.force_login(asker)
    page = client.get(f"/approvals/{approval.pk}/").content.decode()
    assert 'value="approve"' not in page and "You asked for this" in page
    client.post(f"/approvals/{approval.pk}/decide/", {"decision": "approve", "content_hash": approval.content_hash})
    with pytest.raises(CommandError, match="cannot decide on it"):
        call_command("archive", "approval", "approve", str(approval.pk), "--by", "boss", stdout=StringIO())
    approval.refresh_from_db()
    assert approval.state == "pending" and approval.decided_by is None
    events = set(AuditEvent.objects.values_list("action", flat=True))
    assert "approval.approved" not in events and "approval.requested" in events
