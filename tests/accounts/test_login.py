"""Login throttling (django-axes) on /login/ and the admin's login, and every login, failure, lockout
and logout in the audit chain, with the client's network and a keyed mark of its address, never a password."""

from __future__ import annotations

import json
import time
from datetime import timedelta

import pytest
from django.test import RequestFactory

from apps.accounts.addresses import client_address
from apps.accounts.login_audit import attempted_username, client_mark
from apps.audit.models import AuditEvent
from tests.roles import PASSWORD, user_in

WRONG = "Tr0ub4dor&3-not-it"
pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _three_failures(settings):
    settings.AXES_FAILURE_LIMIT = 3
    settings.AXES_COOLOFF_TIME = timedelta(minutes=15)


def _post(client, path, username, password, address="10.1.1.1"):
    return client.post(path, {"username": username, "password": password}, REMOTE_ADDR=address)


def _events(action: str) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action=action).order_by("seq"))


def _chain_text() -> str:
    return json.dumps([[e.actor, e.target, e.details] for e in AuditEvent.objects.all()])


@pytest.mark.parametrize("path", ["/login/", "/admin/login/"])
def test_failed_logins_lock_the_username_at_that_address_out_and_are_audited(client, path):
    user_in("SRE", "alice")
    for attempt in range(2):
        refused = _post(client, path, "alice", WRONG)
        assert refused.status_code == 200 and "Log in" in refused.content.decode()
    locked = _post(client, path, "alice", WRONG)
    assert locked.status_code == 429
    text = locked.content.decode()
    assert "Too many failed logins" in text and "after 3 failed attempts" in text and "15 minutes" in text

    # The right password does not help during the cool-off, from this address...
    still = _post(client, path, "alice", PASSWORD)
    assert still.status_code == 429 and "_auth_user_id" not in client.session

    failed = _events("auth.login_failed")
    assert [e.details["locked_out"] for e in failed] == [False, False, True, True]
    assert {(e.actor, e.actor_user_id, e.via, e.target, e.details["client"], e.details["path"]) for e in failed} == {
        ("anonymous", None, "web", "alice", client_mark("10.1.1.1"), path)}
    assert client_mark("10.1.1.1").startswith("10.1.1.0/24#") and "10.1.1.1" not in _chain_text()
    lockouts = _events("auth.locked_out")
    assert len(lockouts) == 2  # the third failure, and the attempt refused during the cool-off
    assert lockouts[0].details == {"client": client_mark("10.1.1.1"), "path": path, "username": "alice", "failure_limit": 3,
                                   "cooloff_seconds": 900}
    assert lockouts[0].seq > failed[1].seq
    assert not _events("auth.login")

    # ...but from another address the user logs in (a stranger cannot lock a user out everywhere).
    other = _post(client, path, "alice", PASSWORD, address="10.2.2.2")
    assert other.status_code == 302
    login = _events("auth.login")
    assert [(e.actor, e.details["client"], e.details["path"]) for e in login] == [
        ("alice", client_mark("10.2.2.2"), path)]
    assert client_mark("10.2.2.2") != client_mark("10.1.1.1")
    assert login[0].actor_user_id is not None and login[0].via == ("admin" if path.startswith("/admin/") else "web")

    assert PASSWORD not in _chain_text() and WRONG not in _chain_text()


def test_the_lockout_ends_after_the_cool_off(client, settings):
    settings.AXES_COOLOFF_TIME = timedelta(seconds=2)
    user_in("Viewer", "bob")
    for _ in range(3):
        _post(client, "/login/", "bob", WRONG)
    assert _post(client, "/login/", "bob", PASSWORD).status_code == 429
    time.sleep(2.2)
    assert _post(client, "/login/", "bob", PASSWORD).status_code == 302
    assert client.get("/").status_code == 200


def test_a_successful_login_and_a_logout_are_audited(client):
    carol = user_in("Analyst", "carol")
    assert _post(client, "/login/", "carol", PASSWORD, address="192.0.2.7").status_code == 302
    assert client.post("/logout/", REMOTE_ADDR="192.0.2.7").status_code == 302
    (login,) = _events("auth.login")
    (logout,) = _events("auth.logout")
    for event in (login, logout):
        assert (event.actor, event.actor_user_id, event.via, event.target) == ("carol", carol.pk, "web",
                                                                               f"user:{carol.pk}")
        assert event.details == {"client": client_mark("192.0.2.7"), "path": event.details["path"]}
    assert (login.details["path"], logout.details["path"]) == ("/login/", "/logout/")
    assert logout.seq > login.seq


def test_an_unknown_username_is_kept_only_as_a_keyed_hash(client, settings):
    typed = "hunter2-typed-as-username"
    _post(client, "/login/", typed, WRONG)
    (event,) = _events("auth.login_failed")
    assert event.target == event.details["username"] == attempted_username(typed)
    assert event.target.startswith("unknown:") and len(event.target) == len("unknown:") + 16
    assert typed not in _chain_text()
    # Keyed: the same name gives the same mark (attempts can be correlated), another key another one.
    assert attempted_username(typed) == event.target
    settings.SECRET_KEY = "another-secret-key-for-this-test-only"
    assert attempted_username(typed) != event.target


def test_the_client_address_comes_from_trusted_proxies_only(settings):
    request = RequestFactory().get("/", REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR="6.6.6.6, 203.0.113.9")
    settings.ARCHIVE_TRUSTED_PROXIES = 0
    assert client_address(request) == "10.0.0.1"
    settings.ARCHIVE_TRUSTED_PROXIES = 1  # one proxy: it appended the address it saw
    assert client_address(request) == "203.0.113.9"
    settings.ARCHIVE_TRUSTED_PROXIES = 3  # more proxies than the header names: not trusted
    assert client_address(request) == "10.0.0.1"
