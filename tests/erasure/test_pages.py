"""The erasure pages with the Django test client: who reaches which page, the form's errors per field,
drafts, cancelling, overdue requests in red (list, compliance home, status page), the read-only admin.
What needs records in the warehouse (the preview, approving) is in test_pages_approval.py."""

from __future__ import annotations

import uuid
from datetime import date, timedelta

import pytest
from django.test import override_settings
from django.utils import timezone

from apps.accounts.actors import Actor
from apps.audit.models import AuditEvent
from apps.erasure.models import ErasureRequest, ErasureState
from apps.erasure.services import erasure_file
from archive_portal.celery import app
from tests.roles import ROLES, user_in

pytestmark = pytest.mark.django_db
OFFICERS = {"Compliance Officer", "Administrator"}
EMAIL = "ann.page@example.org"


def _draft(by, *, due_on: date | None = None, **criteria) -> ErasureRequest:
    return erasure_file(actor=Actor.of_user(by), legal_basis="GDPR art. 17(1)(a)", reason="ticket 7",
                        subjects=criteria.pop("subjects", [f"email={EMAIL}"]), due_on=due_on, submit=False, **criteria)


def _form(**fields) -> dict:
    return {"subjects": f"email={EMAIL}", "job_ids": "", "trace_ids": "", "payload_hashes": "", "tenant": "",
            "date_from": "", "date_to": "", "legal_basis": "GDPR art. 17(1)(a)", "reason": "ticket 8",
            "due_on": (timezone.now() + timedelta(days=30)).date().isoformat(), "action": "draft", **fields}


@pytest.fixture
def draft():
    return _draft(user_in("Compliance Officer", "filer"))


@pytest.mark.parametrize("role", ROLES)
def test_pages_per_role(role, client, draft):
    client.force_login(user_in(role))
    allowed = role in OFFICERS
    for url in ("/compliance/erasure/", "/compliance/erasure/new/", f"/compliance/erasure/{draft.pk}/",
                f"/compliance/erasure/{draft.pk}/progress.json"):
        assert client.get(url).status_code == (200 if allowed else 403), (role, url)
    # No certificate yet: a 404 for who may look, a 403 for the others.
    assert client.get(f"/compliance/erasure/{draft.pk}/certificate/").status_code == (404 if allowed else 403)

    nav = client.get("/").content.decode()  # the status page: every role has it
    assert ('href="/compliance/erasure/"' in nav) == allowed, role

    filed = client.post("/compliance/erasure/new/", _form(subjects="email=bob@example.org"))
    cancelled = client.post(f"/compliance/erasure/{draft.pk}/cancel/", {"reason": "duplicate"})
    draft.refresh_from_db()
    if allowed:
        assert filed.status_code == 302 and cancelled.status_code == 302
        assert draft.state == ErasureState.CANCELLED
        assert ErasureRequest.objects.filter(criteria__subjects=["email=bob@example.org"]).exists()
    else:
        assert filed.status_code == 403 and cancelled.status_code == 403
        assert draft.state == ErasureState.DRAFT and ErasureRequest.objects.count() == 1


def test_anonymous_users_are_sent_to_log_in(client, draft):
    for url in ("/compliance/erasure/", "/compliance/erasure/new/", f"/compliance/erasure/{draft.pk}/",
                f"/compliance/erasure/{draft.pk}/certificate/?format=pdf"):
        response = client.get(url)
        assert response.status_code == 302 and response.url.startswith("/login/"), url


def test_the_form_names_the_configured_keys_and_defaults_the_due_date(client):
    client.force_login(user_in("Compliance Officer", "officer"))
    page = client.get("/compliance/erasure/new/")
    form = page.context["form"]
    assert "email, customer_id" not in form.fields["subjects"].help_text  # sorted, so:
    assert "customer_id, email, user_id" in form.fields["subjects"].help_text
    assert form.fields["due_on"].initial == (timezone.now() + timedelta(days=30)).date()
    html = page.content.decode()
    assert 'name="action" value="draft"' in html and 'name="action" value="submit"' in html


@pytest.mark.parametrize("fields, field, message", [
    ({"subjects": "shoe_size=44"}, "subjects", "no subject key 'shoe_size'; the configured keys are"),
    ({"subjects": "email"}, "subjects", "expected KEY=VALUE"),
    ({"payload_hashes": "not-a-hash"}, "payload_hashes", "expected 32 hex digits"),
    ({"date_from": "2026-03-02", "date_to": "2026-03-01"}, "date_to", "before it starts"),
    ({"subjects": "", "tenant": "acme"}, "__all__", "a tenant or dates alone would erase everybody's"),
    ({"legal_basis": "   "}, "legal_basis", "give the legal basis"),
])
def test_refusals_are_shown_next_to_their_field(client, fields, field, message):
    client.force_login(user_in("Compliance Officer", "officer"))
    page = client.post("/compliance/erasure/new/", _form(**fields))
    assert page.status_code == 200
    errors = page.context["form"].errors
    assert field in errors and message in " ".join(errors[field]), errors
    assert message.replace("'", "&#x27;") in page.content.decode()
    assert not ErasureRequest.objects.exists()


def test_a_draft_shows_what_it_names_until_it_is_cancelled(client):
    officer = user_in("Compliance Officer", "officer")
    client.force_login(officer)
    page = client.post("/compliance/erasure/new/", _form(job_ids="job-1, job-2", tenant="acme",
                                                         date_from="2026-01-01"), follow=True)
    erasure = ErasureRequest.objects.get()
    assert page.redirect_chain[-1][0] == f"/compliance/erasure/{erasure.pk}/"
    assert erasure.state == ErasureState.DRAFT and erasure.requested_by == officer
    assert erasure.due_on == (timezone.now() + timedelta(days=30)).date()
    html = page.content.decode()
    assert "saved as a draft" in html
    for shown in (EMAIL, "job-1", "job-2", "acme", "2026-01-01 to ... (UTC)", "GDPR art. 17(1)(a)"):
        assert shown in html, shown
    assert "Submit for approval" in html and "Cancel the request" in html
    assert 'id="decide"' not in html and 'id="steps"' not in html  # no approval, no run yet

    page = client.post(f"/compliance/erasure/{erasure.pk}/cancel/", {"reason": "asked twice"}, follow=True)
    erasure.refresh_from_db()
    assert erasure.state == ErasureState.CANCELLED and erasure.scrubbed
    html = page.content.decode()
    assert "cancelled: nothing is erased" in html
    assert EMAIL not in html and "job-1" not in html  # only how many there were
    assert "1: only their keyed hashes are kept" in html and "2: only their keyed hashes are kept" in html
    assert "Cancel the request" not in html
    assert AuditEvent.objects.filter(action="erasure.cancelled", target=f"erasure:{erasure.pk}").exists()
    assert client.post(f"/compliance/erasure/{erasure.pk}/cancel/").status_code == 302  # refused, said so
    assert "only a draft or a request waiting for approval" in client.get(
        f"/compliance/erasure/{erasure.pk}/").content.decode()


def test_the_list_filters_by_state(client):
    officer = user_in("Compliance Officer", "officer")
    kept, gone = _draft(officer), _draft(officer, subjects=["email=other@example.org"])
    client.force_login(officer)
    client.post(f"/compliance/erasure/{gone.pk}/cancel/")
    everything = client.get("/compliance/erasure/").content.decode()
    assert kept.reference in everything and gone.reference in everything
    drafts = client.get("/compliance/erasure/?state=draft").content.decode()
    assert kept.reference in drafts and gone.reference not in drafts
    assert '<option value="draft" selected>' in drafts
    assert gone.reference in client.get("/compliance/erasure/?state=cancelled").content.decode()
    assert kept.reference in client.get("/compliance/erasure/?state=nonsense").content.decode()


def test_overdue_requests_are_red_on_the_list_the_home_and_the_status_page(client, redis_conn):
    officer = user_in("Compliance Officer", "officer")
    late = _draft(officer, due_on=timezone.now().date() - timedelta(days=1))
    on_time = _draft(officer, subjects=["email=bob@example.org"])
    client.force_login(officer)

    listing = client.get("/compliance/erasure/").content.decode()
    assert f'<tr data-request="{late.pk}" class="bad">' in listing
    assert f'<tr data-request="{on_time.pk}">' in listing
    assert "(overdue)" in listing

    home = client.get("/compliance/").content.decode()
    assert 'id="card-erasures-overdue"><h3>Erasures overdue</h3><div class="value bad">1</div>' in home
    assert f'<tr data-request="{late.pk}" class="bad">' in home
    card = home.split('id="card-erasures"')[1].split('id="card-erasures-overdue"')[0]
    assert '<div class="value">2</div>' in card and "2 draft ·" in card

    detail = client.get(f"/compliance/erasure/{late.pk}/").content.decode()
    assert 'id="erasure-due" class="bad">' in detail

    client.force_login(user_in("SRE", "sre"))  # the status page: any role sees the count (no names)
    status = client.get("/").content.decode()
    assert 'id="erasures-overdue"' in status and '<div class="value bad">1</div>' in status
    assert 'href="/compliance/erasure/"' not in status

    client.post(f"/compliance/erasure/{late.pk}/cancel/")  # an SRE may not
    client.force_login(officer)
    client.post(f"/compliance/erasure/{late.pk}/cancel/")
    client.force_login(user_in("Viewer", "viewer"))
    assert 'id="erasures-overdue"' not in client.get("/").content.decode()  # ended: not overdue any more


def test_the_home_shows_no_erasure_to_who_may_not_see_them(client, draft):
    from django.contrib.auth.models import Permission

    user = user_in(None, "holds_only")
    user.user_permissions.add(Permission.objects.get(codename="view_legalhold"))
    client.force_login(user)
    home = client.get("/compliance/").content.decode()
    assert "Open erasure requests" not in home and draft.reference not in home


def test_submitting_with_no_worker_files_nothing_and_says_so(client):
    client.force_login(user_in("Compliance Officer", "officer"))
    previous = app.conf.task_always_eager
    app.conf.task_always_eager = False
    try:
        with override_settings(CELERY_TASK_ALWAYS_EAGER=False, WAREHOUSE_QUEUE=f"nobody-{uuid.uuid4().hex[:8]}"):
            page = client.post("/compliance/erasure/new/", _form(action="submit"))
    finally:
        app.conf.task_always_eager = previous
    assert page.status_code == 200
    assert "No worker serves the warehouse queue" in page.content.decode()
    assert "save it as a draft" in page.content.decode()
    assert not ErasureRequest.objects.exists()


def test_the_admin_is_read_only_and_shows_only_the_label(client, draft):
    client.force_login(user_in("Compliance Officer", "officer"))
    listing = client.get("/admin/erasure/erasurerequest/")
    assert listing.status_code == 200
    html = listing.content.decode()
    assert draft.reference in html and f"email={EMAIL}" in html
    assert client.get("/admin/erasure/erasurerequest/add/").status_code == 403
    change = client.get(f"/admin/erasure/erasurerequest/{draft.pk}/change/")
    assert change.status_code == 200
    html = change.content.decode()
    assert "open the request page" in html and 'name="_save"' not in html
    assert draft.hashed["subject_keys"][0] not in html  # no stored criteria, raw or hashed
    assert client.post(f"/admin/erasure/erasurerequest/{draft.pk}/delete/", {"post": "yes"}).status_code == 403
    assert ErasureRequest.objects.filter(pk=draft.pk, state=ErasureState.DRAFT).exists()
    client.force_login(user_in("Viewer", "viewer"))
    assert client.get("/admin/erasure/erasurerequest/").status_code == 403
