"""Who acts: one answer for the web, the admin, the command line, Celery tasks and beat.

Every service that changes data takes an `Actor` and records it: the portal user when there is
one, and always a label that says who it was (`alice`, `os:deploy` for a command run without
`--by`, `beat` for scheduled work). Tasks carry it as plain data (`as_task`/`from_task`).
"""

from __future__ import annotations

import getpass
from dataclasses import dataclass

from django.contrib.auth import get_user_model


class UnknownActor(ValueError):
    """A named portal user does not exist or is not active."""


@dataclass(frozen=True)
class Actor:
    user_id: int | None
    label: str
    via: str  # web, admin, cli, beat

    @property
    def user(self):
        return get_user_model().objects.filter(pk=self.user_id).first() if self.user_id else None

    @classmethod
    def of_user(cls, user, *, via: str = "web") -> Actor:
        return cls(user_id=user.pk, label=user.get_username(), via=via)

    @classmethod
    def cli(cls, username: str | None = None) -> Actor:
        """`--by USERNAME` (an existing, active portal user), else the operating-system user."""
        if not username:
            return cls(user_id=None, label=f"os:{os_user()}", via="cli")
        found = get_user_model().objects.filter(username=username).first()
        if found is None:
            raise UnknownActor(f"no portal user {username!r}")
        if not found.is_active:
            raise UnknownActor(f"portal user {username!r} is inactive; --by must name an active user")
        return cls.of_user(found, via="cli")

    @classmethod
    def system(cls, name: str) -> Actor:
        return cls(user_id=None, label=name, via=name)

    def as_task(self) -> dict:
        return {"user_id": self.user_id, "label": self.label, "via": self.via}

    @classmethod
    def from_task(cls, data: dict | None) -> Actor:
        return cls(**data) if data else cls.system("task")

    def __str__(self) -> str:
        return self.label


def os_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no login name in a bare container
        return "unknown"


def audit_context(actor: Actor):
    """django-auditlog's rows written inside carry the actor: the user, and always its label."""
    from auditlog.context import set_extra_data

    return set_extra_data({"actor": actor.user, "additional_data": {"actor": actor.label, "via": actor.via}})


def require_permission(actor: Actor, permission: str) -> None:
    """Services check what pages check: a portal user must hold the permission. The command line
    without --by and scheduled work act with the operator's own rights (whoever can run them)."""
    from django.core.exceptions import PermissionDenied

    if actor.user_id is None:
        return
    user = actor.user
    if user is None or not user.is_active or not user.has_perm(permission):
        raise PermissionDenied(f"{actor.label} may not do this (needs the permission {permission})")
