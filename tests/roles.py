"""Portal users in a role, as the roles migration defines them (apps/accounts/migrations/0001_roles.py)."""

from __future__ import annotations

from django.contrib.auth.models import Group, User

ROLES = ("Viewer", "Analyst", "SRE", "Compliance Officer", "Administrator")
PASSWORD = "correct horse battery staple"


def user_in(role: str | None, username: str | None = None, *, staff: bool = True) -> User:
    """A user (password PASSWORD) in `role` (None: in no role); staff so the admin lets them in."""
    name = username or (role or "nobody").lower().replace(" ", "_")
    user = User.objects.create_user(name, password=PASSWORD, is_staff=staff)
    if role:
        user.groups.add(Group.objects.get(name=role))
    return user
