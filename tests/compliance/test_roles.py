"""Each role reaches the compliance pages and commands it may use, and is refused the others."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from apps.accounts.actors import Actor
from apps.compliance.models import LegalHold
from apps.compliance.services import hold_place
from tests.roles import ROLES, user_in

pytestmark = pytest.mark.django_db
OFFICERS = {"Compliance Officer", "Administrator"}


@pytest.fixture
def hold():
    return hold_place(actor=Actor.of_user(user_in("Compliance Officer", "holder")), reason="case 1", queue="billing")


@pytest.mark.parametrize("role", ROLES)
def test_pages_per_role(role, client, hold):
    user = user_in(role)
    client.force_login(user)
    may = {
        "/compliance/": role in OFFICERS,
        "/compliance/holds/": role in OFFICERS,
        f"/compliance/holds/{hold.pk}/": role in OFFICERS,
        "/approvals/": role in OFFICERS | {"SRE"},
        "/audit/": role in OFFICERS,
        "/audit/export.csv": role in OFFICERS,
    }
    for url, allowed in may.items():
        assert client.get(url).status_code == (200 if allowed else 403), (role, url)
    nav = client.get("/approvals/" if may["/approvals/"] else "/compliance/").content.decode()
    if role in OFFICERS:
        assert 'href="/compliance/holds/"' in nav
    elif role == "SRE":
        assert 'href="/approvals/"' in nav and 'href="/compliance/holds/"' not in nav

    placed = client.post("/compliance/holds/", {"queue": "emails", "reason": "case 2"})
    released = client.post(f"/compliance/holds/{hold.pk}/release/", {"reason": "done"})
    if role in OFFICERS:
        assert placed.status_code == 302 and LegalHold.objects.filter(queue="emails").exists()
        assert released.status_code == 302
    else:
        assert placed.status_code == 403 and released.status_code == 403
        assert not LegalHold.objects.filter(queue="emails").exists()


def test_anonymous_users_are_sent_to_log_in(client):
    for url in ("/compliance/", "/compliance/holds/", "/approvals/"):
        response = client.get(url)
        assert response.status_code == 302 and response.url.startswith("/login/"), url


@pytest.mark.parametrize("role", ROLES)
def test_commands_per_role(role, hold):
    user_in(role, "someone")
    add = ["archive", "hold", "add", "--queue", "emails", "--reason", "case 3", "--by", "someone"]
    release = ["archive", "hold", "release", str(hold.pk), "--reason", "over", "--by", "someone"]
    for args in (add, release):
        if role in OFFICERS:
            call_command(*args, stdout=StringIO(), stderr=StringIO())
        else:
            with pytest.raises(CommandError, match="may not do this"):
                call_command(*args, stdout=StringIO(), stderr=StringIO())
    if role not in OFFICERS:
        assert not LegalHold.objects.filter(queue="emails").exists()


@pytest.mark.parametrize("role", ROLES)
def test_the_admin_purge_pages_per_role(role, client):
    """Asking for a purge (the admin's form and its "Ask for approval") is for SREs and administrators."""
    client.force_login(user_in(role))
    allowed = role in ("SRE", "Administrator")
    assert client.get("/admin/retention/retentionrun/purge/").status_code == (200 if allowed else 403)
    asked = client.post("/admin/retention/retentionrun/999999/confirm/", {"confirm": "yes"})
    assert asked.status_code == (404 if allowed else 403)  # allowed: refused only because there is no such run
