"""Portal users in a role, as the roles migration defines them (apps/accounts/migrations/0001_roles.py)."""

from __future__ import annotations

import importlib

from django.contrib.auth.models import Group, Permission, User

ROLES = ("Viewer", "Analyst", "SRE", "Compliance Officer", "Administrator")
PASSWORD = "correct horse battery staple"


def ensure_roles() -> None:
    """The groups as the migration made them: a transactional test's flush empties the table, and
    only the permissions come back by themselves (post_migrate), not the data migration's groups."""
    roles = {name: list(dotted) for name, dotted in
             importlib.import_module("apps.accounts.migrations.0001_roles").ROLES.items()}
    for migration in ("0002_subject_key_roles", "0003_erasure_roles", "0004_subject_access_roles",
                      "0005_explorer_roles", "0006_stats_roles", "0007_dashboard_roles", "0008_restore_roles"):
        later = importlib.import_module(f"apps.accounts.migrations.{migration}")
        pairs = getattr(later, "GRANTS", None) or [(later.PERMISSIONS, later.ROLES)]
        for permissions, names in pairs:
            for name in names:
                roles[name] += permissions
    for name, dotted in roles.items():
        group, created = Group.objects.get_or_create(name=name)
        if created or not group.permissions.exists():
            group.permissions.set([Permission.objects.get(content_type__app_label=d.split(".")[0],
                                                          codename=d.split(".")[1]) for d in dotted])


def user_in(role: str | None, username: str | None = None, *, staff: bool = True) -> User:
    """A user (password PASSWORD) in `role` (None: in no role); staff so the admin lets them in."""
    ensure_roles()
    name = username or (role or "nobody").lower().replace(" ", "_")
    user = User.objects.create_user(name, password=PASSWORD, is_staff=staff)
    if role:
        user.groups.add(Group.objects.get(name=role))
    return user
