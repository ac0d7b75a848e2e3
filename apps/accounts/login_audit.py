"""Logins, failed logins, logouts and lockouts written to the audit chain (actions `auth.*`).

Django's auth signals and django-axes' `user_locked_out` are the only hooks every login path
shares (/login/, the admin's login, a future API login), so the events are recorded here:

- `auth.login`: the user logged in (actor: the user).
- `auth.logout`: the user logged out (actor: the user).
- `auth.login_failed`: a login was refused, for a wrong password or because the username and
  address are locked out; `"locked_out": true` when the attempt ended locked out (the one that
  reached the limit, and those during the cool-off). Axes handles the signal first (it comes before
  apps.accounts in INSTALLED_APPS), so its verdict is known here.
- `auth.locked_out`: axes refused the pair: the failure that reached AXES_FAILURE_LIMIT, and each
  attempt made during the cool-off.

Failed logins and lockouts have no portal user behind them: their actor is `anonymous`, via `web`.
Details hold the client's network and a keyed hash of its address (`client_mark`), and the path;
never a password. An IP address is personal data and the chain can never be edited, so the full
address stays only in django-axes' own tables (which its cleanup empties); the mark still tells
one address from another, and the network (IPv4 /24, IPv6 /48) where attempts came from. The attempted username is kept
as typed when it is an existing user's username (whose account is under attack matters, and the
username is no secret), and otherwise only as `unknown:` plus 16 hex digits of an HMAC-SHA256 keyed
with SECRET_KEY: an unknown username is often a password typed in the wrong field, and the chain
is kept for years, so it must not hold it in clear; nor as a plain SHA-256, which a dictionary of
common passwords would reverse. The keyed hash still lets repeated attempts with one name be
correlated (until SECRET_KEY is rotated).
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress

from django.conf import settings
from django.contrib.auth import get_user_model

from apps.accounts.actors import Actor
from apps.accounts.addresses import client_address

ANONYMOUS = Actor(user_id=None, label="anonymous", via="web")


def attempted_username(username: str | None) -> str:
    """What the chain may hold of a username typed at a login form (see the module docstring)."""
    if not username:
        return ""
    if get_user_model().objects.filter(username=username).exists():
        return username
    return f"unknown:{_keyed(username)}"


def _keyed(text: str) -> str:
    return hmac.new(settings.SECRET_KEY.encode(), text.encode(), hashlib.sha256).hexdigest()[:16]


def client_mark(address: str) -> str:
    """What the chain keeps of a client address: its network and a keyed hash, e.g. `10.1.1.0/24#3f2a...`."""
    if not address:
        return ""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return f"?#{_keyed(address)}"
    network = ipaddress.ip_network(f"{ip}/{24 if ip.version == 4 else 48}", strict=False)
    return f"{network}#{_keyed(address)}"


def _where(request) -> dict:
    if request is None:  # authenticate() called without a request (not a web login)
        return {"client": "", "path": ""}
    return {"client": client_mark(client_address(request)), "path": request.path[:200]}


def _via(request) -> str:
    return "admin" if request is not None and request.path.startswith("/admin/") else "web"


def on_logged_in(sender, request, user, **kwargs):
    from apps.audit.services import audit_record

    audit_record(actor=Actor.of_user(user, via=_via(request)), action="auth.login", target=f"user:{user.pk}",
                 details=_where(request))


def on_logged_out(sender, request, user, **kwargs):
    if user is None:  # logging out without a session: nobody to record
        return
    from apps.audit.services import audit_record

    audit_record(actor=Actor.of_user(user, via=_via(request)), action="auth.logout", target=f"user:{user.pk}",
                 details=_where(request))


def on_login_failed(sender, credentials, request=None, **kwargs):
    from apps.audit.services import audit_record

    username = attempted_username(credentials.get(get_user_model().USERNAME_FIELD) or credentials.get("username"))
    audit_record(actor=ANONYMOUS, action="auth.login_failed", target=username,
                 details={**_where(request), "username": username,
                          "locked_out": bool(getattr(request, "axes_locked_out", False))})


def on_locked_out(sender, request, username, ip_address, **kwargs):
    from axes.helpers import get_cool_off

    from apps.audit.services import audit_record

    name = attempted_username(username)
    cool_off = get_cool_off(request)
    audit_record(actor=ANONYMOUS, action="auth.locked_out", target=name,
                 details={**_where(request), "username": name, "failure_limit": settings.AXES_FAILURE_LIMIT,
                          "cooloff_seconds": int(cool_off.total_seconds()) if cool_off else None})


def connect() -> None:
    """Called once from AccountsConfig.ready()."""
    from axes.signals import user_locked_out
    from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed

    user_logged_in.connect(on_logged_in, dispatch_uid="accounts.audit.login")
    user_logged_out.connect(on_logged_out, dispatch_uid="accounts.audit.logout")
    user_login_failed.connect(on_login_failed, dispatch_uid="accounts.audit.login_failed")
    user_locked_out.connect(on_locked_out, dispatch_uid="accounts.audit.locked_out")
